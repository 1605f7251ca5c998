/**
 * Bundle load benchmark, side by side in one run on one generated bundle:
 * (a) native `bundle load` (one pass, signature checked natively in the pass),
 * (b) the skopeo importer `bundle load --importer skopeo` (extract, skopeo copy x5 into the registry),
 * (c) the floor: `pigz -dc B | openssl dgst -sha256` (decompress and hash everything once),
 * (d) the memory bound: `bundle load` of a second bundle of a few MiB whose one layer is
 *     `--zeros-gib` GiB of zeros (memory must not grow with the compression ratio).
 * Prints seconds, MiB/s of the compressed bundle, ratios, peak RSS (the child's VmHWM) and the
 * peak extra disk used beyond the final storage (sampled with statfs every 50 ms).
 *
 * Usage: deno run -A bench/bundle_bench.ts [--images 40] [--layer-mib 48] [--zeros-gib 4]
 *   [--dir /tmp/bb]
 */
import { statfs } from "node:fs/promises";
import { join } from "node:path";
import {
  blob,
  descriptor,
  indexFor,
  makeBundle,
  MEDIA,
  streamedDescriptor,
  streamedOciArchive,
  writeBundle,
  zerosBlob,
} from "../tests/fixtures/make_bundle.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { exitOnHelp } from "./bench_args.ts";

exitOnHelp(import.meta.url);

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const images = Number(flag("--images", "40"));
const layerMiB = Number(flag("--layer-mib", "48"));
const zerosGiB = Number(flag("--zeros-gib", "4"));
const dir = args.includes("--dir")
  ? flag("--dir", "")
  : await Deno.makeTempDir({ prefix: "bundle-bench-" });
await Deno.mkdir(dir, { recursive: true });
const MiB = 1024 * 1024;

async function used(path: string): Promise<number> {
  const s = await statfs(path);
  return (s.blocks - s.bfree) * s.bsize;
}

async function duBytes(path: string): Promise<number> {
  const out = await new Deno.Command("du", { args: ["-sb", path] }).output();
  return Number(new TextDecoder().decode(out.stdout).split("\t")[0]) || 0;
}

async function sh(cmd: string): Promise<void> {
  const out = await new Deno.Command("sh", { args: ["-c", cmd], stdout: "null" }).output();
  if (out.code !== 0) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
}

interface Run {
  seconds: number;
  peakRssMiB: number;
  peakExtraDiskMiB: number;
}

/** Runs argv, sampling the child's peak RSS (VmHWM) and the filesystem's used bytes. */
async function measure(argv: string[], storage?: string): Promise<Run> {
  await sh("sync");
  const before = await used(dir);
  let peakUsed = before;
  let peakRss = 0;
  const t0 = performance.now();
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "null",
    stderr: "piped",
    env: { K0RDENTD_CONFIG_FILE: "/dev/null" },
  }).spawn();
  const errText = new Response(child.stderr).text();
  let running = true;
  const sampler = (async () => {
    while (running) {
      try {
        const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
        const rss = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
        peakRss = Math.max(peakRss, rss);
      } catch { /* exited */ }
      peakUsed = Math.max(peakUsed, await used(dir));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const status = await child.status;
  const seconds = (performance.now() - t0) / 1000;
  running = false;
  await sampler;
  if (status.code !== 0) throw new Error(`${argv.join(" ")} failed: ${await errText}`);
  const final = storage ? await duBytes(storage) : 0;
  return {
    seconds,
    peakRssMiB: peakRss / MiB,
    peakExtraDiskMiB: Math.max(0, peakUsed - before - final) / MiB,
  };
}

const tar = join(dir, "airgap-bundle-1.2.3.tar");
const bundle = `${tar}.gz`;
try {
  await Deno.stat(bundle);
  console.log(`Using existing bundle ${bundle}`);
} catch {
  console.log(`Generating ${images} images with ${layerMiB} MiB layers in ${dir} ...`);
  await makeBundle(tar, { images, layerSize: layerMiB * MiB, format: "tar" });
  await sh(`pigz -f "${tar}"`);
}
await sh(
  `cd "${dir}" && openssl ecparam -name prime256v1 -genkey -noout -out key.pem && ` +
    `openssl ec -in key.pem -pubout -out cosign.pub 2>/dev/null && ` +
    `openssl dgst -sha256 -sign key.pem "${bundle}" | base64 -w0 > "${bundle}.sig"`,
);
const zeros = join(dir, `zeros-${zerosGiB}g.tar.gz`);
try {
  await Deno.stat(zeros);
} catch {
  console.log(`Generating a bundle with ${zerosGiB} GiB of zeros in one layer ...`);
  const layer = await zerosBlob("application/vnd.oci.image.layer.v1.tar", zerosGiB * 1024 * MiB);
  const config = blob(MEDIA.config, JSON.stringify({ architecture: "amd64", os: "linux" }));
  const manifest = blob(
    MEDIA.manifest,
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: descriptor(config),
      layers: [streamedDescriptor(layer)],
    }),
  );
  await writeBundle(zeros, [{
    name: "zeros_1.0.tar",
    body: streamedOciArchive(indexFor(manifest), [manifest, config, layer]),
  }], "tar.gz");
}
const size = (await Deno.stat(bundle)).size;
console.log(`Bundle: ${(size / MiB).toFixed(0)} MiB compressed, ${images + 4} archives`);

const deno = Deno.execPath();
const cli = (...a: string[]) => [deno, "run", "--quiet", ...BINARY_PERMISSIONS, MAIN_TS, ...a];
const storageA = join(dir, "storage-native");
const storageB = join(dir, "storage-skopeo");
await Deno.remove(storageA, { recursive: true }).catch(() => {});
await Deno.remove(storageB, { recursive: true }).catch(() => {});

const floor = await measure(["sh", "-c", `pigz -dc "${bundle}" | openssl dgst -sha256`]);
const native = await measure(
  cli("bundle", "load", bundle, "--storage", storageA, "--cosign-key", join(dir, "cosign.pub")),
  storageA,
);
const nativePigz = await measure(
  cli(
    "bundle",
    "load",
    bundle,
    "--storage",
    `${storageA}-pigz`,
    "--cosign-key",
    join(dir, "cosign.pub"),
    "--gunzip",
    "pigz",
  ),
  `${storageA}-pigz`,
);
const inspect = await measure(cli("bundle", "inspect", bundle));
const rerun = await measure(
  cli("bundle", "load", bundle, "--storage", storageA, "--cosign-key", join(dir, "cosign.pub")),
);
const skopeo = await measure(
  cli("bundle", "load", bundle, "--storage", storageB, "--importer", "skopeo", "--verify=false"),
  storageB,
);
const storageD = join(dir, "storage-zeros");
await Deno.remove(storageD, { recursive: true }).catch(() => {});
const zerosRun = await measure(
  cli("bundle", "load", zeros, "--storage", storageD, "--verify=false"),
  storageD,
);

const rate = (r: Run) => `${(size / MiB / r.seconds).toFixed(0)} MiB/s`;
const row = (name: string, r: Run) =>
  `${name.padEnd(46)} ${r.seconds.toFixed(1).padStart(6)} s  ${rate(r).padStart(10)}  ` +
  `RSS ${r.peakRssMiB.toFixed(0).padStart(4)} MiB  extra disk ${r.peakExtraDiskMiB.toFixed(0)} MiB`;
console.log(row("(a) native load (signature checked in the pass)", native));
console.log(row("(a') native load, --gunzip pigz", nativePigz));
console.log(row("bundle inspect (same pass, no writes)", inspect));
console.log(row("(b) baseline: --importer skopeo (no signature)", skopeo));
console.log(row("(c) floor: pigz -dc | openssl dgst -sha256", floor));
console.log(row("rerun of a complete bundle", rerun));
console.log(
  `(d) memory bound: ${zerosGiB} GiB of zeros in a ` +
    `${((await Deno.stat(zeros)).size / MiB).toFixed(1)} MiB .tar.gz: ` +
    `${zerosRun.seconds.toFixed(1)} s, peak RSS ${zerosRun.peakRssMiB.toFixed(0)} MiB`,
);
console.log(`(a) vs (b): ${(skopeo.seconds / native.seconds).toFixed(1)}x faster`);
console.log(`(a) throughput / (c) throughput: ${(floor.seconds / native.seconds).toFixed(2)}`);
await Deno.remove(storageA, { recursive: true }).catch(() => {});
await Deno.remove(`${storageA}-pigz`, { recursive: true }).catch(() => {});
await Deno.remove(storageB, { recursive: true }).catch(() => {});
await Deno.remove(storageD, { recursive: true }).catch(() => {});

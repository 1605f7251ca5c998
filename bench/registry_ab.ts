/**
 * Two builds of the registry side by side, alternated on the same data, to tell a change from the
 * machine's noise when `registry_bench.ts` runs minutes apart cannot: this tree against another
 * checkout (`git worktree add /tmp/base <commit>`, or `git archive <commit> | tar -x -C /tmp/base`).
 * Each round, for each build in turn: one `curl` of a random blob, then `wrk -t2 -c32` on a
 * manifest; reports wall time and the server's CPU (utime + stime from /proc) for each.
 *
 *   npx deno run -A bench/registry_ab.ts --base /tmp/base [--blob-mib 256] [--rounds 5] [--seconds 3]
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { digestOf } from "../src/registry/digest.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { REGISTRY_SERVE_PERMISSIONS } from "../src/permissions.ts";
import { randomBytes } from "../tests/registry_helpers.ts";
import { freePort } from "../tests/helpers/free_port.ts";
import { waitUp } from "./wait_up.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  base: { type: "string" },
  "blob-mib": { type: "string", default: "256" },
  rounds: { type: "string", default: "5" },
  seconds: { type: "string", default: "3" },
});
if (!args.base) throw new Error("--base <checkout of the other build> is required");
const HERE = fileURLToPath(new URL("..", import.meta.url));
const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Build {
  name: string;
  base: string;
  child: Deno.ChildProcess;
  blob: { wall: number[]; cpu: number[] };
  manifest: { rps: number[]; cpuUs: number[] };
}

function cpuMs(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

async function run(cmd: string, argv: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args: argv, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

async function start(name: string, root: string, storage: string): Promise<Build> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...REGISTRY_SERVE_PERMISSIONS,
      join(root, "main.ts"),
      "registry",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--storage",
      storage,
      // Plain HTTP, as docker-registry is served here (the daemon's default is --tls auto).
      "--tls",
      "off",
      "--log-level",
      "warn",
    ],
    env: { K0RDENTD_CONFIG_FILE: "/dev/null" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  await waitUp(base);
  return { name, base, child, blob: { wall: [], cpu: [] }, manifest: { rps: [], cpuUs: [] } };
}

async function post(url: string, body: BodyInit, method = "POST", type?: string) {
  const res = await fetch(url, { method, body, headers: type ? { "Content-Type": type } : {} });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`${method} ${url}: ${res.status}`);
}

const dir = await Deno.makeTempDir({ prefix: "registry-ab-" });
const builds: Build[] = [];
try {
  const blobPath = join(dir, "blob.bin");
  const blob = randomBytes(Number(args["blob-mib"]) << 20);
  await Deno.writeFile(blobPath, blob);
  const blobDigest = digestOf(blob);
  const config = new TextEncoder().encode('{"architecture":"amd64","os":"linux"}');
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: digestOf(config),
      size: config.length,
    },
    layers: [],
  });
  builds.push(
    await start("base", args.base, join(dir, "a")),
    await start("this", HERE, join(dir, "b")),
  );
  for (const b of builds) {
    await post(
      `${b.base}/v2/ab/app/blobs/uploads/?digest=${blobDigest}`,
      await Deno.readFile(blobPath),
    );
    await post(`${b.base}/v2/ab/app/blobs/uploads/?digest=${digestOf(config)}`, config);
    await post(`${b.base}/v2/ab/app/manifests/v1`, manifest, "PUT", MEDIA_TYPES.ociManifest);
  }
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const b of builds) {
      const pid = b.child.pid;
      let cpu = cpuMs(pid);
      const wall = Number(
        await run("curl", [
          "-sS",
          "-o",
          "/dev/null",
          "-w",
          "%{time_total}",
          `${b.base}/v2/ab/app/blobs/${blobDigest}`,
        ]),
      );
      b.blob.wall.push(wall);
      b.blob.cpu.push(cpuMs(pid) - cpu);
      cpu = cpuMs(pid);
      const out = await run("wrk", [
        "-t2",
        "-c32",
        `-d${args.seconds}s`,
        "-H",
        `Accept: ${MEDIA_TYPES.ociManifest}`,
        `${b.base}/v2/ab/app/manifests/v1`,
      ]);
      const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
      b.manifest.rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]));
      b.manifest.cpuUs.push(((cpuMs(pid) - cpu) * 1000) / requests);
      console.log(
        `round ${round + 1} ${b.name}: blob GET ${wall.toFixed(2)} s (cpu ${
          b.blob.cpu.at(-1)
        } ms), ` +
          `manifest GET ${b.manifest.rps.at(-1)!.toFixed(0)} req/s (${
            b.manifest.cpuUs.at(-1)!.toFixed(1)
          } µs cpu/req)`,
      );
    }
  }
  // Range and median: on a shared machine the median (and the best figure) moves least.
  const range = (xs: number[], digits: number) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    return `${sorted[0].toFixed(digits)}-${sorted.at(-1)!.toFixed(digits)} ` +
      `(median ${median.toFixed(digits)})`;
  };
  console.log("\n| build | blob GET s | blob GET cpu ms | manifest GET req/s | µs cpu/req |");
  console.log("|---|---|---|---|---|");
  for (const b of builds) {
    console.log(
      `| ${b.name} | ${range(b.blob.wall, 2)} | ${range(b.blob.cpu, 0)} | ` +
        `${range(b.manifest.rps, 0)} | ${range(b.manifest.cpuUs, 1)} |`,
    );
  }
} finally {
  for (const b of builds) {
    b.child.kill("SIGTERM");
    await b.child.status;
  }
  await Deno.remove(dir, { recursive: true });
}

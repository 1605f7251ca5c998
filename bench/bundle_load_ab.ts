/**
 * Two builds' `bundle load` side by side, alternated on one bundle, to tell a change from the
 * machine's noise: this tree against another checkout (`git archive <commit> | tar -x -C
 * /tmp/base`, with `node_modules` linked in). Each round, for each build in turn (the order
 * alternates): `bundle load --verify=false` into a fresh storage, as a subprocess under the
 * binary's permissions; reports wall time and the child's CPU (user + sys: this process's
 * cutime + cstime from /proc, which grow by exactly the reaped child's), per run, the best of
 * each build and the per-round ratios.
 *
 *   npx deno run -A bench/bundle_load_ab.ts --base /tmp/base [--images 12] [--layer-mib 16]
 *     [--rounds 6] [--dir /tmp/bundle-ab]
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { makeBundle } from "../tests/fixtures/make_bundle.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  base: { type: "string" },
  images: { type: "string", default: "12" },
  "layer-mib": { type: "string", default: "16" },
  rounds: { type: "string", default: "6" },
  dir: { type: "string" },
});
if (!args.base) throw new Error("--base <checkout of the other build> is required");
const HERE = fileURLToPath(new URL("..", import.meta.url));
const TICK_MS = 10; // USER_HZ is 100 on Linux
const dir = args.dir ?? await Deno.makeTempDir({ prefix: "bundle-ab-" });
await Deno.mkdir(dir, { recursive: true });

/** CPU of this process's reaped children so far (cutime + cstime), in ms. */
function childrenCpuMs(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[13]) + Number(fields[14])) * TICK_MS;
}

const bundle = join(dir, "airgap-bundle-1.2.3.tar.gz");
try {
  await Deno.stat(bundle);
} catch {
  await makeBundle(bundle, {
    images: Number(args.images),
    layerSize: Number(args["layer-mib"]) * 1024 * 1024,
  });
}
const size = (await Deno.stat(bundle)).size;

interface Build {
  name: string;
  root: string;
  wall: number[];
  cpu: number[];
}

async function load(build: Build): Promise<void> {
  const storage = join(dir, "storage");
  await Deno.remove(storage, { recursive: true }).catch(() => {});
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...BINARY_PERMISSIONS,
      join(build.root, "main.ts"),
      "bundle",
      "load",
      bundle,
      "--storage",
      storage,
      "--verify=false",
      "--output",
      "json",
    ],
    env: { K0RDENTD_CONFIG_FILE: "/dev/null" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = (performance.now() - t0) / 1000;
  const cpu = (childrenCpuMs() - cpu0) / 1000;
  if (!out.success) {
    throw new Error(`${build.name}: bundle load failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  build.wall.push(wall);
  build.cpu.push(cpu);
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ")[0];
  console.log(
    `${build.name.padEnd(5)} wall ${wall.toFixed(2)} s  cpu ${cpu.toFixed(2)} s  load ${load}`,
  );
}

const a: Build = { name: "base", root: args.base, wall: [], cpu: [] };
const b: Build = { name: "this", root: HERE, wall: [], cpu: [] };
console.log(`bundle ${(size / 2 ** 20).toFixed(0)} MiB, ${args.rounds} rounds`);
for (let i = 0; i < Number(args.rounds); i++) {
  for (const build of i % 2 === 0 ? [a, b] : [b, a]) await load(build);
}
const best = (xs: number[]) => Math.min(...xs).toFixed(2);
for (const build of [a, b]) {
  console.log(`${build.name}: best wall ${best(build.wall)} s, best cpu ${best(build.cpu)} s`);
}
console.log(
  `cpu this/base per round: ${b.cpu.map((c, i) => (c / a.cpu[i]).toFixed(2)).join(" ")}`,
);

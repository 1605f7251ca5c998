/**
 * How much it costs to learn whether another process changed the registry storage, per check:
 * `stat` of a path (what reads paid before the metadata index), `fstat` of an open file
 * (`FsFile.statSync()`), and `lseek(fd, 0, SEEK_END)` (`FsFile.seekSync`), which returns the
 * size of the storage's generation file without building a stat object. See docs/benchmarks.md.
 *
 *   npx deno run -A bench/generation_check.ts [--n 200000]
 */
import { join } from "node:path";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, { n: { type: "string", default: "200000" } });
const N = Number(args.n);
const dir = await Deno.makeTempDir({ prefix: "generation-check-" });
try {
  // A path as deep as a tag's: repositories/<a>/<b>/_manifests/tags/<tag>.
  const deep = join(dir, "repositories/k0rdent/kcm/_manifests/tags");
  await Deno.mkdir(deep, { recursive: true });
  const tag = join(deep, "1.0.0");
  await Deno.writeTextFile(tag, "sha256:" + "0".repeat(64) + "\n");
  const file = Deno.openSync(join(dir, "generation"), { append: true, create: true, read: true });
  file.writeSync(new Uint8Array(1));
  const cases: [string, () => number][] = [
    ["stat of a tag path (Deno.statSync)", () => Deno.statSync(tag).size],
    ["fstat of the open generation file (FsFile.statSync)", () => file.statSync().size],
    [
      "lseek to the end of the generation file (FsFile.seekSync)",
      () => file.seekSync(0, Deno.SeekMode.End),
    ],
  ];
  console.log(
    `generation check: ${N} calls each, best of 5 rounds, load ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  for (const [name, fn] of cases) {
    let best = Infinity;
    let sink = 0;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      for (let i = 0; i < N; i++) sink += fn();
      best = Math.min(best, (performance.now() - t) / N * 1000);
    }
    console.log(`  ${name}: ${best.toFixed(3)} us/call${sink < 0 ? "" : ""}`);
  }
  file.close();
} finally {
  await Deno.remove(dir, { recursive: true });
}

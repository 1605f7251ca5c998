/**
 * The metadata index at scale: heap it takes for `--tags` tags (with as many revision and link
 * entries), and how long resolving them all takes right after a start (cold: each read fills
 * the index from the tag file) and then again (warm: from memory), on a disk storage laid out
 * like a bundle's (`--repos` repositories). See docs/benchmarks.md.
 *
 *   npx deno run -A --v8-flags=--expose-gc bench/metadata_index_memory.ts [--tags 10000] [--repos 240]
 */
import { dirname, join } from "node:path";
import { layout } from "../src/registry/storage/layout.ts";
import { MemoryDriver } from "../src/registry/storage/memory_driver.ts";
import { MetadataIndex } from "../src/registry/storage/metadata_index.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  tags: { type: "string", default: "10000" },
  repos: { type: "string", default: "240" },
});
const TAGS = Number(args.tags);
const REPOS = Number(args.repos);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

/** A digest-like string for entry `i`. */
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;
const repo = (i: number) => `k0rdent-enterprise/charts/component-${i % REPOS}`;
const tag = (i: number) => `v1.${Math.floor(i / REPOS)}.0`;

// Heap of the index: every tag, revision and link entry filled once.
const index = new MetadataIndex(new MemoryDriver());
gc();
const before = Deno.memoryUsage().heapUsed;
for (let i = 0; i < TAGS; i++) {
  await index.tag(repo(i), tag(i), () => Promise.resolve(digest(i)));
  await index.revision(repo(i), digest(i), () => Promise.resolve(true));
  await index.link(repo(i), digest(i + TAGS), () => Promise.resolve(true));
}
gc();
const heap = Deno.memoryUsage().heapUsed - before;
console.log(
  `metadata index: ${TAGS} tags + ${TAGS} revisions + ${TAGS} links (${index.size} entries) ` +
    `take ${(heap / 1024 / 1024).toFixed(1)} MiB of heap`,
);

// Cold and warm resolution on disk.
const dir = await Deno.makeTempDir({ prefix: "metadata-index-" });
try {
  for (let i = 0; i < TAGS; i++) {
    const path = join(dir, layout.tag(repo(i), tag(i)));
    Deno.mkdirSync(dirname(path), { recursive: true });
    Deno.writeTextFileSync(path, digest(i) + "\n");
  }
  const storage = openDiskStorage(dir);
  for (const pass of ["cold (after a start)", "warm"]) {
    const t = performance.now();
    for (let i = 0; i < TAGS; i++) {
      if ((await storage.resolveTag(repo(i), tag(i))) !== digest(i)) throw new Error("wrong tag");
    }
    console.log(
      `  resolving ${TAGS} tags in ${REPOS} repositories, ${pass}: ` +
        `${(performance.now() - t).toFixed(0)} ms`,
    );
  }
  console.log(`  load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
} finally {
  await Deno.remove(dir, { recursive: true });
}

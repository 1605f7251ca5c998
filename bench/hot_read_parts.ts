/**
 * The JS side of a hot manifest and blob HEAD, in process and without the HTTP server: the whole
 * handler (`readManifest`, `readBlob` on a request whose `Accept` is the stored type), the index
 * and cache lookup alone (`peekManifest`, which includes the generation check), the generation
 * `lseek` alone, and the `Response` with the same five headers that the bare server builds too.
 * See docs/benchmarks.md (Registry hot reads against the bare runtime, second round).
 *
 *   npx deno run -A bench/hot_read_parts.ts [--n 200000]
 */
import { digestOf } from "../src/registry/digest.ts";
import { readBlob } from "../src/registry/http/blobs.ts";
import { readManifest } from "../src/registry/http/manifests.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { layout } from "../src/registry/storage/layout.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, { n: { type: "string", default: "200000" } });
const N = Number(args.n);
const dir = await Deno.makeTempDir({ prefix: "hot-read-parts-" });
try {
  const storage = openDiskStorage(dir);
  const config = new TextEncoder().encode('{"architecture":"amd64","os":"linux"}');
  const configDigest = digestOf(config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: [],
  }));
  await storage.putBlob(config);
  await storage.linkBlob("bench/app", configDigest);
  const { digest } = await storage.putManifest("bench/app", manifest, {
    reference: "v1",
    contentType: MEDIA_TYPES.ociManifest,
  });
  // Fill the index and caches, as the first read after a start does.
  await storage.getManifest("bench/app", "v1");
  await storage.statRepoBlob("bench/app", configDigest);
  const req = new Request("http://127.0.0.1/v2/bench/app/manifests/v1", {
    method: "HEAD",
    headers: { accept: MEDIA_TYPES.ociManifest },
  });
  const counter = storage.driver.openCounter(layout.generation())!;
  const cases: [string, () => unknown][] = [
    ["manifest HEAD by tag (readManifest)", () => readManifest(storage, req, "bench/app", "v1")],
    ["blob HEAD (readBlob)", () => readBlob(storage, req, "bench/app", configDigest)],
    ["index and cache lookup (peekManifest)", () => storage.peekManifest("bench/app", "v1")],
    ["generation check alone (lseek)", () => counter.value()],
    ["the Response the bare server builds too", () =>
      new Response(null, {
        status: 200,
        headers: {
          "Docker-Distribution-API-Version": "registry/2.0",
          "Content-Type": MEDIA_TYPES.ociManifest,
          "Content-Length": String(manifest.length),
          "Docker-Content-Digest": digest,
          "ETag": `"${digest}"`,
        },
      })],
  ];
  console.log(
    `hot read parts: ${N} calls each, best of 5 rounds, load ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  for (const [name, fn] of cases) {
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      for (let i = 0; i < N; i++) {
        const value = fn();
        if (value === undefined || value instanceof Promise) {
          throw new Error(`${name}: not answered from memory at once`);
        }
      }
      best = Math.min(best, (performance.now() - t) / N * 1000);
    }
    console.log(`  ${name}: ${best.toFixed(2)} us/call`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

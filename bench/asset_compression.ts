/**
 * Compression of embedded assets, side by side on one real Go binary (default
 * /usr/bin/skopeo; k0s itself cannot be downloaded here): for gzip and brotli,
 * the build's staging (`stageAsset`) and the run time's `extractAsset`
 * (decompress + SHA-256 + atomic write), against a plain copy of the file.
 *
 *   npx deno run -A bench/asset_compression.ts [binary]
 */
import { join } from "node:path";
import { extractAsset } from "../src/assets/extract.ts";
import type { AssetCompression, BuildInfo } from "../src/assets/build_info.ts";
import { stageAsset } from "../tasks/stage_assets.ts";
import { exitOnHelp, usageError } from "./bench_args.ts";

exitOnHelp(import.meta.url);

const source = Deno.args[0] ?? "/usr/bin/skopeo";
const info = await Deno.stat(source).catch(() => null);
if (!info?.isFile || Deno.args.length > 1) {
  usageError(import.meta.url, `expected one binary to compress, not "${Deno.args.join(" ")}"`);
}
const size = info.size;
const dir = await Deno.makeTempDir({ prefix: "bench-assets-" });
const mib = (n: number) => (n / 1048576).toFixed(1);

try {
  let t = performance.now();
  await Deno.copyFile(source, join(dir, "copy"));
  const copyMs = performance.now() - t;
  console.log(
    `input ${source}: ${size} bytes (${mib(size)} MiB); plain copy ${copyMs.toFixed(0)} ms`,
  );
  console.log(
    "format  compressed bytes  ratio   stage ms  extract ms  extract MiB/s  extract/copy",
  );
  for (const compression of ["gzip", "brotli"] as AssetCompression[]) {
    const assets = join(dir, compression);
    t = performance.now();
    const asset = await stageAsset({
      name: "tool",
      version: "v0",
      source,
      dir: assets,
      compression,
    });
    const stageMs = performance.now() - t;
    const info: BuildInfo = { flavor: "airgap", version: "0", assets: [asset] };
    t = performance.now();
    await extractAsset("tool", join(dir, `out-${compression}`), { dir: assets, info });
    const extractMs = performance.now() - t;
    console.log(
      [
        compression.padEnd(6),
        String(asset.compressedSize).padStart(16),
        `${(asset.compressedSize / size * 100).toFixed(1)}%`.padStart(6),
        stageMs.toFixed(0).padStart(9),
        extractMs.toFixed(0).padStart(10),
        (size / 1048576 / (extractMs / 1000)).toFixed(0).padStart(13),
        (extractMs / copyMs).toFixed(1).padStart(13),
      ].join("  "),
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

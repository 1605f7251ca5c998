/**
 * Staging of build assets: compresses a tool binary into the assets dir while
 * measuring it (size and SHA-256 before and after compression), and writes the
 * build metadata that `src/assets/build_info.ts` reads at run time.
 */
import { Duplex } from "node:stream";
import { join } from "node:path";
import * as zlib from "node:zlib";
import {
  type AssetCompression,
  type AssetInfo,
  BUILD_INFO_FILE,
  type BuildInfo,
} from "../src/assets/build_info.ts";
import { MeasureStream } from "../src/assets/measure_stream.ts";
import { errorMessage, UserError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/fsx/atomic_write.ts";

/** File name suffix per compression. */
export const COMPRESSION_SUFFIX: Record<AssetCompression, string> = { gzip: "gz", brotli: "br" };

/** What to stage. */
export interface StageAssetOptions {
  /** Logical name (`k0s`, `helm`); the staged file is `<name>.<gz|br>`. */
  name: string;
  version: string;
  /** The uncompressed binary. */
  source: string;
  /** The assets dir to write into. */
  dir: string;
  compression: AssetCompression;
  /** Called as the source is read: bytes so far and the source's size. */
  onProgress?: (read: number, total: number) => void;
}

/**
 * Compressor per format, at the strongest settings (see docs/builds.md for the measurements):
 * gzip level 9; brotli quality 11 with a 16 MiB window.
 */
function compressor(
  format: AssetCompression,
  sizeHint: number,
): TransformStream<Uint8Array, Uint8Array> {
  const node = format === "gzip" ? zlib.createGzip({ level: 9 }) : zlib.createBrotliCompress({
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: sizeHint,
    },
  });
  return Duplex.toWeb(node) as unknown as TransformStream<Uint8Array, Uint8Array>;
}

/** Compresses `source` into `<dir>/<name>.<suffix>` (atomically) and returns its metadata. */
export async function stageAsset(options: StageAssetOptions): Promise<AssetInfo> {
  const file = `${options.name}.${COMPRESSION_SUFFIX[options.compression]}`;
  let input: Deno.FsFile;
  let size: number;
  try {
    input = await Deno.open(options.source);
    size = (await input.stat()).size;
  } catch (err) {
    throw new UserError(
      `Cannot read ${options.name} binary "${options.source}": ${errorMessage(err)}`,
    );
  }
  const onProgress = options.onProgress;
  const raw = new MeasureStream({ onChunk: onProgress && ((read) => onProgress(read, size)) });
  const packed = new MeasureStream();
  await writeFileAtomic(
    join(options.dir, file),
    input.readable.pipeThrough(raw).pipeThrough(compressor(options.compression, size))
      .pipeThrough(packed),
    { mode: 0o644, mkdirMode: 0o755 },
  );
  return {
    name: options.name,
    file,
    version: options.version,
    size: raw.result.size,
    sha256: raw.result.sha256,
    compressedSize: packed.result.size,
    compressedSha256: packed.result.sha256,
    compression: options.compression,
  };
}

/** Writes `<dir>/build-info.json` atomically. */
export async function writeBuildInfo(dir: string, info: BuildInfo): Promise<string> {
  const path = join(dir, BUILD_INFO_FILE);
  await writeFileAtomic(path, JSON.stringify(info, null, 2) + "\n", {
    mode: 0o644,
    mkdirMode: 0o755,
  });
  return path;
}

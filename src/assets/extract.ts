/**
 * Extracts an embedded asset (k0s, helm) to a file: streams the compressed
 * file from the assets dir through decompression and SHA-256 into a temp file
 * beside the target, checks size and digest against the build metadata, sets
 * the mode (0755) and renames. A corrupt or truncated asset leaves no file.
 */
import { basename, join } from "node:path";
import { CancelledError, errorMessage, UserError } from "../errors.ts";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { type AssetInfo, assetsDir, type BuildInfo, readBuildInfo } from "./build_info.ts";
import { MeasureStream } from "./measure_stream.ts";

/** Options of {@link extractAsset}. */
export interface ExtractOptions {
  /** Assets dir; default {@link assetsDir} (embedded in the compiled binary, or beside the sources). */
  dir?: string;
  /** Build metadata, when the caller has read it already; default read from `dir`. */
  info?: BuildInfo;
  /** Mode of the extracted file; default 0o755. */
  mode?: number;
  /** Aborts the extraction (nothing is left behind); throws {@link CancelledError}. */
  signal?: AbortSignal;
  /** Called as bytes are written: uncompressed bytes so far and the expected total. */
  onProgress?: (written: number, total: number) => void;
}

/** What {@link extractAsset} wrote. */
export interface ExtractedAsset {
  name: string;
  version: string;
  /** The target path as given. */
  path: string;
  /** Uncompressed size in bytes. */
  size: number;
  /** Hex SHA-256 of the written file (checked against the metadata). */
  sha256: string;
}

/**
 * The metadata of the embedded asset `name` (e.g. `k0s`, `helm`).
 * Throws a {@link UserError} when this build does not embed it (online build, or not included).
 */
export function findAsset(info: BuildInfo, name: string): AssetInfo {
  const asset = info.assets.find((a) => a.name === name);
  if (asset) return asset;
  if (info.flavor !== "airgap") {
    throw new UserError(
      `This is the online build of k0rdentd: no ${name} binary is embedded ` +
        `(use the air-gap build k0rdentd-airgap-linux-<arch>)`,
    );
  }
  const embedded = info.assets.map((a) => a.name).join(", ") || "none";
  throw new UserError(`This air-gap build embeds no ${name} binary (embedded: ${embedded})`);
}

/**
 * Extracts the embedded asset `name` to `target` (parent dirs are created 0755).
 * An existing file at `target` is replaced atomically (safe for a running binary).
 * Throws a {@link UserError} naming the asset and target when the asset is
 * missing, corrupt or truncated; then nothing is written.
 *
 * @example
 * await extractAsset("k0s", host.mapPath(HOST.k0sBinary));
 */
export async function extractAsset(
  name: string,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractedAsset> {
  const dir = options.dir ?? assetsDir();
  const info = options.info ?? await readBuildInfo(dir);
  const asset = findAsset(info, name);
  const what = `embedded ${name} ${asset.version}`;
  if (basename(asset.file) !== asset.file) {
    throw new UserError(`Cannot extract ${what}: invalid file name "${asset.file}" in metadata`);
  }
  const compression = asset.compression ?? "gzip";
  if (compression !== "gzip" && compression !== "brotli") {
    throw new UserError(`Cannot extract ${what}: unknown compression "${compression}" in metadata`);
  }
  const source = join(dir, asset.file);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(source);
  } catch (err) {
    throw new UserError(`Cannot extract ${what}: cannot read "${source}": ${errorMessage(err)}`);
  }
  const check = new MeasureStream({
    onChunk: (written) => {
      if (written > asset.size) {
        throw new DamagedAsset(`content is larger than the expected ${asset.size} bytes`);
      }
      options.onProgress?.(written, asset.size);
    },
    onEnd: ({ size, sha256 }) => {
      if (size !== asset.size) {
        throw new DamagedAsset(`content is truncated: ${size} of ${asset.size} bytes`);
      }
      if (sha256 !== asset.sha256) {
        throw new DamagedAsset(`SHA-256 mismatch: got ${sha256}, expected ${asset.sha256}`);
      }
    },
  });
  const signal = options.signal;
  const stream = file.readable
    .pipeThrough(new DecompressionStream(compression), { signal })
    .pipeThrough(check, { signal });
  try {
    await writeFileAtomic(target, stream, { mode: options.mode ?? 0o755, mkdirMode: 0o755 });
  } catch (err) {
    // Releases the source file when the write failed before reading (e.g. target dir unwritable).
    await stream.cancel().catch(() => {});
    if (signal?.aborted) throw new CancelledError(`Cancelled extracting ${what}`);
    // Decompression failures surface as TypeError from DecompressionStream.
    const detail = err instanceof DamagedAsset || err instanceof TypeError
      ? `the embedded asset "${asset.file}" is corrupt or truncated: ${errorMessage(err)}`
      : errorMessage(err);
    throw new UserError(`Cannot extract ${what} to "${target}": ${detail}`);
  }
  return { name, version: asset.version, path: target, ...check.result };
}

/** The asset's content does not match its metadata. */
class DamagedAsset extends Error {}

/**
 * Opens a bundle for one streaming pass: a `.tar.gz`, a plain `.tar` or an extracted
 * directory. Counts (and optionally hashes) the bytes read from disk, decompresses gzip
 * in-process in bounded chunks (`gunzip.ts`; or, on request, with `pigz -dc` as a subprocess:
 * measured slower in this pipeline, since every byte then crosses two pipes through the
 * event loop; see docs/bundle.md), and yields the bundle's files with safe relative paths.
 */
import { join, relative } from "node:path";
import { UserError } from "../../errors.ts";
import { spawnStreaming } from "../../process/runner.ts";
import { gunzipStream, GzipError } from "./gunzip.ts";
import { type TarFile, tarFiles, UnsafeEntryError } from "./tar_walk.ts";

/** The form a bundle comes in. */
export type BundleKind = "tar.gz" | "tar" | "dir";

/** What is known about a bundle before reading it. */
export interface BundleInfo {
  path: string;
  kind: BundleKind;
  /** Bytes on disk (the file, or the sum of a directory's files). */
  size: number;
  /** Modification time in ms (for the load journal's identity). */
  mtimeMs: number;
}

/** How gzip is decompressed: `builtin` (default) is node:zlib in-process (`gunzip.ts`). */
export type Decompressor = "builtin" | "pigz";

/** Options of {@link bundleFiles}. */
export interface ReadOptions {
  /** Called with every chunk read from disk (for progress). */
  onBytes?: (n: number) => void;
  /** Fed every byte of the bundle file (the signature check). */
  hash?: { update(chunk: Uint8Array): unknown };
  decompressor?: Decompressor;
  signal?: AbortSignal;
}

/** `Cannot read bundle "<path>": <detail>`. */
export function bundleError(path: string, detail: string, cause?: unknown): UserError {
  return new UserError(`Cannot read bundle "${path}": ${detail}`, { cause });
}

/** Stats `path` and tells its kind (gzip by magic bytes, not by name). */
export async function statBundle(path: string): Promise<BundleInfo> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw bundleError(path, "no such file or directory");
    throw bundleError(path, (err as Error).message, err);
  }
  const mtimeMs = stat.mtime?.getTime() ?? 0;
  if (stat.isDirectory) {
    let size = 0;
    for await (const f of walkDir(path)) size += f.size;
    return { path, kind: "dir", size, mtimeMs };
  }
  const head = new Uint8Array(2);
  const file = await Deno.open(path);
  try {
    await file.read(head);
  } finally {
    file.close();
  }
  const kind = head[0] === 0x1f && head[1] === 0x8b ? "tar.gz" : "tar";
  return { path, kind, size: stat.size, mtimeMs };
}

async function* walkDir(root: string, dir = root): AsyncGenerator<{ path: string; size: number }> {
  const names: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e);
  names.sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of names) {
    const full = join(dir, e.name);
    const rel = relative(root, full);
    if (e.isSymlink) throw bundleError(root, `"${rel}" is a symbolic link; links are not allowed`);
    if (e.isDirectory) yield* walkDir(root, full);
    else if (e.isFile) yield { path: rel, size: (await Deno.stat(full)).size };
  }
}

/** Bytes per read from disk. */
const READ_CHUNK = 512 * 1024;

/**
 * Reads a file in {@link READ_CHUNK} pieces. (`FsFile.readable` reads 64 KiB at a time; with
 * 1 MiB reads decompressing a 4 GiB bundle went from 418 to 757 MiB/s here, since every read
 * is a round trip to a blocking thread. 512 KiB loads as fast with a lower peak RSS.) Once
 * `signal` aborts, the next read errors the stream with its reason, which tears down everything
 * reading from it: the pass stops within one read, even inside a large blob.
 */
function readFile(file: Deno.FsFile, signal?: AbortSignal): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(READ_CHUNK);
      let n: number | null;
      try {
        signal?.throwIfAborted();
        n = await file.read(buf);
      } catch (err) {
        file.close();
        throw err;
      }
      if (n === null) {
        file.close();
        controller.close();
      } else controller.enqueue(buf.subarray(0, n));
    },
    cancel() {
      file.close();
    },
  });
}

/** Wraps a byte stream to count and hash what passes. */
function tap(stream: ReadableStream<Uint8Array>, options: ReadOptions) {
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        options.onBytes?.(chunk.length);
        options.hash?.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
}

/** A decompressed stream and a check that throws when the decompressor failed. */
interface Gunzipped {
  stream: ReadableStream<Uint8Array>;
  /** Resolves when decompression succeeded; throws a one-line reason otherwise. */
  check(): Promise<void>;
  close(): void;
}

function gunzip(input: ReadableStream<Uint8Array>, options: ReadOptions): Gunzipped {
  const child = options.decompressor === "pigz"
    ? spawnStreaming(["pigz", "-dc"], { signal: options.signal })
    : undefined;
  if (!child) {
    if (options.decompressor === "pigz") {
      throw new UserError('Cannot run "pigz": not installed (omit --gunzip pigz)');
    }
    let failure: GzipError | undefined;
    return {
      stream: catchInto(gunzipStream(input, { signal: options.signal }), (err) => {
        if (err instanceof GzipError) failure = err;
      }),
      check: () => failure ? Promise.reject(failure) : Promise.resolve(),
      close() {},
    };
  }
  const feeding = input.pipeTo(child.stdin).catch(() => {});
  return {
    stream: child.stdout,
    async check() {
      await feeding;
      const { code, stderrTail } = await child.status;
      if (code !== 0) throw new Error(gzipReason(stderrTail || `pigz exited with code ${code}`));
    },
    close: () => child.kill(),
  };
}

/** Records a stream's error (then rethrows it to the reader). */
function catchInto(stream: ReadableStream<Uint8Array>, record: (err: unknown) => void) {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        record(err);
        controller.error(err);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** A one-line reason from pigz's stderr. */
function gzipReason(text: string): string {
  if (/unexpected end|truncated|corrupt|premature|incomplete/i.test(text)) {
    return "unexpected end of gzip stream (the file is truncated or corrupt)";
  }
  return `gzip decompression failed: ${text.trim().split("\n").pop()}`;
}

/** Lets a consumer ask, after a read error inside a file, whether decompression failed. */
export interface StreamProbe {
  /** The decompressor's failure as a one-line reason, if it failed. */
  failure?: () => Promise<string | undefined>;
}

/**
 * Yields the bundle's files (paths relative to the bundle, not yet stripped of a lone
 * top-level folder). Errors are `UserError`s naming the bundle. A consumer whose read of a
 * file body fails should consult `probe.failure()`: a truncated gzip shows up first as a
 * truncated inner archive.
 */
export async function* bundleFiles(
  info: BundleInfo,
  options: ReadOptions = {},
  probe: StreamProbe = {},
): AsyncGenerator<TarFile> {
  if (info.kind === "dir") {
    for await (const f of walkDir(info.path)) {
      const file = await Deno.open(join(info.path, f.path));
      yield { path: f.path, size: f.size, body: tap(readFile(file, options.signal), options) };
    }
    return;
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(info.path);
  } catch (err) {
    throw bundleError(info.path, (err as Error).message, err);
  }
  const raw = tap(readFile(file, options.signal), options);
  const gz = info.kind === "tar.gz" ? gunzip(raw, options) : undefined;
  if (gz) probe.failure = () => gz.check().then(() => undefined, (err) => err.message);
  try {
    yield* tarFiles(gz ? gz.stream : raw, { strict: true });
    await gz?.check();
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (err instanceof UserError) throw err;
    // A decompressor failure explains a truncated tar better than the tar parser does.
    if (gz) {
      gz.close();
      await gz.check().catch((gzErr) => {
        throw bundleError(info.path, gzErr.message, gzErr);
      });
    }
    if (err instanceof UnsafeEntryError) throw bundleError(info.path, err.message, err);
    throw bundleError(info.path, tarReason(err), err);
  } finally {
    gz?.close();
  }
}

/** A one-line reason for a tar parse failure. */
export function tarReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  if (/truncated/i.test(text)) return "tar archive is truncated";
  if (/checksum|magic|invalid/i.test(text)) return `not a valid tar archive (${text})`;
  return text;
}

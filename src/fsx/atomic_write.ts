/** Atomic file writes: temp file beside the target, fsync, rename; nothing half-written is ever visible. */
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode, e.g. 0o600 for anything holding a secret. Default 0o644. */
  mode?: number;
  /** Create missing parent directories with this mode. */
  mkdirMode?: number;
}

/**
 * Replaces `path` with a file that `produce` writes at the temp path it is given (beside `path`,
 * so the rename is atomic): the binary installs (k0s, helm), where a copy, an extraction or a
 * download writes the file. `path` is only replaced when `produce` resolves; the temp file is
 * removed whatever happens. Parents are created with `mkdirMode` when given.
 */
export async function replaceFileWith(
  path: string,
  produce: (temp: string) => Promise<unknown>,
  options: { mkdirMode?: number } = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirMode !== undefined) {
    await Deno.mkdir(dir, { recursive: true, mode: options.mkdirMode });
  }
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await produce(temp);
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

/** Writes `data` to `path` atomically with the given mode. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | ReadableStream<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode ?? 0o644;
  await replaceFileWith(path, async (temp) => {
    const file = await Deno.open(temp, { write: true, createNew: true, mode });
    try {
      const writeAll = async (bytes: Uint8Array) => {
        let offset = 0;
        while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
      };
      if (data instanceof ReadableStream) {
        for await (const chunk of data) await writeAll(chunk);
      } else {
        await writeAll(typeof data === "string" ? new TextEncoder().encode(data) : data);
      }
      await Deno.chmod(temp, mode);
      await file.sync();
    } finally {
      file.close();
    }
  }, options);
}

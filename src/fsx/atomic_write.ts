/** Atomic file writes: temp file beside the target, fsync, rename; nothing half-written is ever visible. */
import { basename, dirname, join } from "node:path";

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** File mode, e.g. 0o600 for anything holding a secret. Default 0o644. */
  mode?: number;
  /** Create missing parent directories with this mode. */
  mkdirMode?: number;
}

/** Writes `data` to `path` atomically with the given mode. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | ReadableStream<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  if (options.mkdirMode !== undefined) {
    await Deno.mkdir(dir, { recursive: true, mode: options.mkdirMode });
  }
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const mode = options.mode ?? 0o644;
  try {
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
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
}

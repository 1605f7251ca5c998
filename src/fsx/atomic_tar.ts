/** Streams a tar archive (optionally gzipped) into a file atomically: on failure nothing is left. */
import { createTarPacker, type TarPackController } from "modern-tar";
import { writeFileAtomic } from "./atomic_write.ts";

/** Options of {@link writeTarAtomic}. */
export interface AtomicTarOptions {
  /** File mode of the archive, e.g. 0o600 when it holds a secret. */
  mode: number;
  /** Gzip the tar stream. */
  gzip?: boolean;
}

/**
 * Writes the tar that `fill` adds entries to into `path` with {@link writeFileAtomic}; the
 * archive is finalized when `fill` returns. When `fill` throws, the stream is errored, the
 * temporary file removed and the error rethrown.
 */
export async function writeTarAtomic(
  path: string,
  fill: (controller: TarPackController) => Promise<void>,
  options: AtomicTarOptions,
): Promise<void> {
  const { readable, controller } = createTarPacker();
  const data = options.gzip ? readable.pipeThrough(new CompressionStream("gzip")) : readable;
  const written = writeFileAtomic(path, data, { mode: options.mode });
  try {
    await fill(controller);
    controller.finalize();
  } catch (err) {
    controller.error(err);
    await written.catch(() => {});
    throw err;
  }
  await written;
}

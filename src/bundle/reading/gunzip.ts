/**
 * In-process gzip decompression whose memory does not grow with the compression ratio: node:zlib
 * emits output chunks of at most {@link GUNZIP_CHUNK_BYTES}, and input is written only as fast as
 * the output is read (zlib stops inflating while its output buffer is full). `DecompressionStream`
 * cannot do this: it inflates each input chunk whole into one output chunk (512 KiB of gzipped
 * zeros became one 512 MiB chunk). Errors are {@link GzipError}s with a one-line reason.
 */
import { createGunzip } from "node:zlib";

/** Largest output chunk. */
export const GUNZIP_CHUNK_BYTES = 256 * 1024;

/** The gzip data is truncated or corrupt; the message is a one-line reason. */
export class GzipError extends Error {
  override name = "GzipError";
}

/** zlib messages that come from parsing a gzip member header. */
const HEADER_ERRORS =
  /incorrect header check|unknown compression method|unknown header flags|header crc mismatch/i;

/** True when `head` (the first 4 bytes) starts a gzip member: magic, deflate, no reserved flag. */
function gzipHeader(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8 &&
    (head[3] & 0xe0) === 0;
}

/**
 * A one-line reason for a zlib error. A header error while the input starts with a valid gzip
 * header comes from a later member: the first one ended and what follows is not gzip. (zlib drops
 * the output of the write that failed, so counting output cannot tell.)
 */
function reason(err: Error & { code?: string }, head: Uint8Array): string {
  if (err.code === "Z_BUF_ERROR" || /unexpected end/i.test(err.message)) {
    return "unexpected end of gzip stream (the file is truncated or corrupt)";
  }
  if (HEADER_ERRORS.test(err.message)) {
    return gzipHeader(head)
      ? "unexpected data after the end of the gzip stream (the file has trailing garbage)"
      : `not a gzip stream (${err.message})`;
  }
  return `gzip stream is corrupt: ${err.message}`;
}

/** Options of {@link gunzipStream}. */
export interface GunzipOptions {
  /** Largest output chunk; default {@link GUNZIP_CHUNK_BYTES}. */
  chunkSize?: number;
  /**
   * Once aborted, the next output chunk errors the stream with the signal's reason (a few KiB
   * of input can inflate for a long time: the input's own reads stop too early to notice).
   */
  signal?: AbortSignal;
}

/**
 * Decompresses `input` (one or more concatenated gzip members). The output stream errors with a
 * {@link GzipError} when the data is not valid gzip, or with the input's own error when reading
 * the input fails. Cancelling the output cancels the input.
 */
export function gunzipStream(
  input: ReadableStream<Uint8Array>,
  options: GunzipOptions = {},
): ReadableStream<Uint8Array> {
  const gz = createGunzip({ chunkSize: options.chunkSize ?? GUNZIP_CHUNK_BYTES });
  const reader = input.getReader();
  let inputError: unknown;
  let head = new Uint8Array(0);
  // Waits until zlib wants more input, or until it is closed.
  const drained = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        gz.off("drain", done).off("close", done);
        resolve();
      };
      gz.once("drain", done).once("close", done);
    });
  (async () => {
    try {
      while (true) {
        const { done, value } = await reader.read();
        // Destroyed: the output was cancelled or failed, and nobody reads any more.
        if (gz.destroyed) return;
        if (done) break;
        if (head.length < 4) {
          head = new Uint8Array([...head, ...value.subarray(0, 4 - head.length)]);
        }
        if (!gz.write(value)) await drained();
      }
      gz.end();
    } catch (err) {
      inputError = err;
      gz.destroy(err as Error);
    }
  })();
  const output = gz[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (options.signal?.aborted) {
        gz.destroy();
        controller.error(options.signal.reason);
        await reader.cancel(options.signal.reason).catch(() => {});
        return;
      }
      try {
        const { done, value } = await output.next();
        if (done) return controller.close();
        controller.enqueue(value);
      } catch (err) {
        controller.error(
          err === inputError ? err : new GzipError(reason(err as Error, head), { cause: err }),
        );
      }
    },
    async cancel(reason) {
      gz.destroy();
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** The upload pump: copies a request body into an open upload file, hashing as it writes. */
import { Hasher } from "../digest.ts";
import { BodyReadError, RegistryError } from "../errors.ts";
import type { AppendHandle } from "./driver.ts";

/** What an upload has received: its running hash and size. */
export interface UploadState {
  hasher: Hasher;
  size: number;
}

const EMPTY = new Uint8Array(0);
/** Uploads are read and written in blocks of this size. */
const PUMP_BUFFER = 1 << 20;

/** A body as a stream (bytes and `null`, the empty body, become one). */
export function toStream(
  body: ReadableStream<Uint8Array> | Uint8Array | null,
): ReadableStream<Uint8Array> {
  if (body instanceof ReadableStream) return body;
  const bytes = body ?? EMPTY;
  return new ReadableStream({
    start(c) {
      if (bytes.length) c.enqueue(bytes);
      c.close();
    },
  });
}

/**
 * Copies `stream` into `handle`, adding every written block to `state` (hash and size), and
 * returns the bytes the body had; the handle stays open for the caller to close. Byte streams
 * (request bodies) are read with a BYOB reader into two reused 1 MiB buffers, so an upload
 * allocates nothing per chunk (server RSS stays flat however large the blob). A body longer
 * than `limit` fails with `RANGE_INVALID` before the excess is written. On any failure the
 * handle is aborted, and `state` no longer matches the file (rebuild it from the data).
 */
export async function pumpUpload(
  stream: ReadableStream<Uint8Array>,
  handle: AppendHandle,
  state: UploadState,
  limit = Infinity,
): Promise<number> {
  let received = 0;
  const count = (n: number) => {
    received += n;
    if (received > limit) {
      throw new RegistryError(
        "RANGE_INVALID",
        `Chunk has more than the ${limit} bytes announced`,
      );
    }
  };
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    byob = undefined;
  }
  const reader = byob ?? stream.getReader();
  try {
    if (byob) {
      // Two buffers: one is written to disk while the socket fills the other.
      const buffers = [new ArrayBuffer(PUMP_BUFFER), new ArrayBuffer(PUMP_BUFFER)];
      let current = 0;
      let buf = buffers[0];
      let filled = 0;
      let writing: Promise<unknown> = Promise.resolve();
      while (true) {
        const { done, value } = await byob.read(
          new Uint8Array(buf, filled, buf.byteLength - filled),
        ).catch((err) => {
          throw new BodyReadError(err);
        });
        if (!value) throw new BodyReadError("it was cancelled");
        count(value.byteLength);
        buf = value.buffer as ArrayBuffer;
        filled += value.byteLength;
        if ((done || filled === buf.byteLength) && filled > 0) {
          await writing;
          const block = new Uint8Array(buf, 0, filled);
          state.hasher.update(block);
          writing = handle.write(block).then(() => state.size += block.length);
          // Keep a rejection from going unhandled while the next block is read.
          writing.catch(() => {});
          buffers[current] = buf;
          current ^= 1;
          buf = buffers[current];
          filled = 0;
        }
        if (done) break;
      }
      await writing;
    } else {
      const plain = reader as ReadableStreamDefaultReader<Uint8Array>;
      while (true) {
        const { done, value } = await plain.read().catch((err) => {
          throw new BodyReadError(err);
        });
        if (done) break;
        count(value.length);
        state.hasher.update(value);
        await handle.write(value);
        state.size += value.length;
      }
    }
  } catch (err) {
    handle.abort();
    throw err;
  } finally {
    reader.releaseLock();
  }
  return received;
}

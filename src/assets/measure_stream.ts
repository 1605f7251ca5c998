/** A pass-through stream that counts bytes and computes their SHA-256 on the way (build and extract). */
import { IncrementalHash } from "../hash/sha.ts";

/** Size and hex SHA-256 of what went through a {@link MeasureStream}. */
export interface Measurement {
  size: number;
  sha256: string;
}

/** Options of {@link MeasureStream}. */
export interface MeasureOptions {
  /** Called after each chunk with the bytes seen so far. */
  onChunk?: (bytesSoFar: number) => void;
  /**
   * Called once at the end of the stream with the measurement; throwing here
   * errors the stream (so a consumer such as `writeFileAtomic` discards its output).
   */
  onEnd?: (result: Measurement) => void;
}

/** Counts and hashes the bytes that pass through; {@link result} is set when the stream ends. */
export class MeasureStream extends TransformStream<Uint8Array, Uint8Array> {
  #result?: Measurement;

  constructor(options: MeasureOptions = {}) {
    const hash = new IncrementalHash();
    let size = 0;
    super({
      transform(chunk, controller) {
        size += chunk.byteLength;
        hash.update(chunk);
        options.onChunk?.(size);
        controller.enqueue(chunk);
      },
      flush: () => {
        this.#result = { size, sha256: hash.hex() };
        options.onEnd?.(this.#result);
      },
    });
  }

  /** The measurement; throws if the stream has not ended. */
  get result(): Measurement {
    if (!this.#result) throw new Error("MeasureStream: the stream has not ended");
    return this.#result;
  }
}

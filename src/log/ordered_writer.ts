/** Writes to one stream (the log's stderr) in order, at once or in the background. */

import { writeAllSync } from "./write_all.ts";

/** A stream written both ways, like `Deno.stderr`. */
export interface DualWriter {
  write(p: Uint8Array): Promise<number>;
  writeSync(p: Uint8Array): number;
}

/** Bytes of lines held while a background write is in flight; beyond, lines are dropped. */
const MAX_QUEUED = 1 << 20;
/** The largest encoding buffer kept for the next background write. */
const MAX_SPARE = 1 << 20;

const encoder = new TextEncoder();

/** Bytes to write, and the buffer they are in when it is ours to use again once written. */
interface Chunk {
  data: Uint8Array;
  own?: Uint8Array;
}

/**
 * One stream written two ways, in the order of the calls: {@link writeSync} (a log line) writes at
 * once when nothing is in flight, and {@link write} (a batch of access log lines) writes in the
 * background, so that a slow reader of the stream (journald behind) stalls no request. Lines
 * written meanwhile wait behind it, up to {@link MAX_QUEUED} bytes; beyond, they are dropped and
 * counted ({@link dropped}). A write that fails (the stream closed) loses what is queued: the log
 * has nowhere else to go. At `unload` (`Deno.exit`), what is queued is written synchronously.
 *
 * A background write's text is encoded into a buffer kept from the write before: allocating one
 * per batch (as `TextEncoder.encode` does) cost more than building the batch's lines
 * (bench/registry_instrument.ts).
 */
export class OrderedWriter {
  #queue: Chunk[] = [];
  #queued = 0;
  #draining?: Promise<void>;
  #dropped = 0;
  #unloadHooked = false;
  /** A buffer of ours, free for the next background write. */
  #spare?: Uint8Array;

  constructor(readonly target: DualWriter) {}

  /** Lines {@link writeSync} dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Writes `data` now, or queues it behind the background writes in flight. */
  writeSync(data: Uint8Array): void {
    if (this.#draining === undefined) return writeAllSync(this.target, data);
    if (this.#queued + data.length > MAX_QUEUED) {
      this.#dropped++;
      return;
    }
    this.#queue.push({ data });
    this.#queued += data.length;
  }

  /**
   * Writes `text` and a newline in the background, after everything before it; resolves once
   * written (or lost, see the class comment).
   */
  write(text: string): Promise<void> {
    const need = text.length * 3 + 1; // UTF-8 takes at most 3 bytes for a UTF-16 unit
    let own = this.#spare;
    this.#spare = undefined;
    if (own === undefined || own.length < need) own = new Uint8Array(Math.max(need, 1 << 16));
    let { written } = encoder.encodeInto(text, own);
    own[written++] = 10;
    this.#queue.push({ data: own.subarray(0, written), own });
    this.#queued += written;
    if (!this.#unloadHooked) {
      this.#unloadHooked = true;
      globalThis.addEventListener("unload", () => this.#writeQueuedSync());
    }
    return this.#draining ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length) {
        const { data, own } = this.#queue.shift()!;
        this.#queued -= data.length;
        let offset = 0;
        while (offset < data.length) offset += await this.target.write(data.subarray(offset));
        if (own !== undefined && own.length <= MAX_SPARE) this.#spare = own;
      }
    } catch {
      this.#queue = [];
      this.#queued = 0;
    } finally {
      this.#draining = undefined;
    }
  }

  #writeQueuedSync(): void {
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    try {
      for (const { data } of queue) writeAllSync(this.target, data);
    } catch {
      // The stream is gone: nothing to tell it with.
    }
  }
}

/**
 * Free space of the storage during a bundle load. A reserve ({@link reserveBytes}) stays free:
 * before each new blob is written the loader claims its size ({@link FreeSpaceGuard.claim}), and
 * while the load runs the filesystem is polled, so that other writers bringing it under the
 * reserve abort the load too ({@link FreeSpaceGuard.signal}). Both stop with a
 * {@link LowSpaceError}. A bundle whose blobs inflate beyond its compressed size (the disk
 * preflight can only compare that) therefore stops cleanly instead of filling the disk the
 * registry serves from.
 */
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { formatBytes } from "../../log/progress.ts";

/** How often the filesystem is polled during a load. */
const POLL_MS = 250;
/** The reserve is 5% of the filesystem, at most this much. */
const MAX_RESERVE_BYTES = 1024 * 1024 * 1024;

/** Free and total bytes of the filesystem of `dir` (or of its nearest existing parent). */
export async function diskSpace(dir: string): Promise<{ free: number; total: number }> {
  let at = dir;
  while (true) {
    try {
      const s = await statfs(at);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch (err) {
      if (err instanceof Deno.errors.NotCapable) throw err;
      const parent = dirname(at);
      if (parent === at) throw err;
      at = parent;
    }
  }
}

/** Bytes a load leaves free on a filesystem of `total` bytes: 5% of it, at most 1 GiB. */
export function reserveBytes(total: number): number {
  return Math.min(MAX_RESERVE_BYTES, Math.floor(total * 0.05));
}

/** The load stopped to keep the reserve free (a UserError: exit 1, one line). */
export class LowSpaceError extends UserError {
  override name = "LowSpaceError";
}

/** Watches the free space of one storage directory during one load. */
export class FreeSpaceGuard {
  readonly #controller = new AbortController();
  #timer?: ReturnType<typeof setTimeout>;

  private constructor(
    readonly dir: string,
    /** Bytes kept free. */
    readonly reserve: number,
    /** Start of every message, e.g. `Cannot load bundle "B" into "S"`. */
    readonly subject: string,
  ) {}

  /**
   * Starts watching `dir`; undefined (with a warning) when `statfs` is not permitted, in which
   * case only a full disk stops the load.
   */
  static async open(dir: string, subject: string): Promise<FreeSpaceGuard | undefined> {
    let total: number;
    try {
      total = (await diskSpace(dir)).total;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotCapable)) throw err;
      log.warn(`Cannot check the free space of "${dir}" (no permission); loading anyway`);
      return undefined;
    }
    const guard = new FreeSpaceGuard(dir, reserveBytes(total), subject);
    guard.#poll();
    return guard;
  }

  /** Aborted with a {@link LowSpaceError} when other writers took the reserve. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Throws a {@link LowSpaceError} unless `bytes` more still leave the reserve free. */
  async claim(bytes: number): Promise<void> {
    const { free } = await diskSpace(this.dir);
    if (free - bytes < this.reserve) throw this.#error(free, bytes);
  }

  /** Stops polling. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #poll() {
    const timer = setTimeout(async () => {
      try {
        const { free } = await diskSpace(this.dir);
        if (free < this.reserve) return this.#controller.abort(this.#error(free, 0));
      } catch (err) {
        log.debug(`Cannot check the free space of "${this.dir}": ${(err as Error).message}`);
      }
      if (this.#timer !== undefined) this.#poll();
    }, POLL_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #error(free: number, bytes: number): LowSpaceError {
    const next = bytes ? `the next blob needs ${formatBytes(bytes)}, ` : "";
    return new LowSpaceError(
      `${this.subject}: stopped with ${formatBytes(free)} free to keep ${
        formatBytes(this.reserve)
      } ` +
        `free on its filesystem (${next}5% of the filesystem up to 1 GiB is kept); free some ` +
        `space or use --storage on a larger disk, then rerun to resume`,
    );
  }
}

/**
 * Blob count and bytes of the registry storage for `/metrics`, without a full walk per scrape:
 * the last walk's figures are served, and a scrape after `refreshMs` starts the next walk in
 * the background (only the first scrape waits for one).
 */
import { errorMessage } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import type { RegistryStorage } from "../storage/storage.ts";

/** What one walk counted. */
export interface StorageFigures {
  blobs: number;
  bytes: number;
  /** When the walk finished (ms since the epoch). */
  at: number;
}

/** Cached storage figures; see the file comment. */
export class StorageUsage {
  #figures?: StorageFigures;
  #walk?: Promise<StorageFigures | undefined>;

  constructor(readonly storage: RegistryStorage, readonly refreshMs = 60_000) {}

  /** The latest figures (undefined when no walk has succeeded yet). */
  async current(): Promise<StorageFigures | undefined> {
    const stale = !this.#figures || Date.now() - this.#figures.at >= this.refreshMs;
    if (stale && !this.#walk) {
      this.#walk = this.#count().finally(() => this.#walk = undefined);
    }
    if (!this.#figures && this.#walk) await this.#walk;
    return this.#figures;
  }

  async #count(): Promise<StorageFigures | undefined> {
    try {
      let blobs = 0;
      let bytes = 0;
      for await (const b of this.storage.listBlobs()) {
        blobs++;
        bytes += b.size;
      }
      this.#figures = { blobs, bytes, at: Date.now() };
      return this.#figures;
    } catch (err) {
      log.warn(`Registry cannot count the stored blobs for /metrics: ${errorMessage(err)}`);
      return undefined;
    }
  }
}

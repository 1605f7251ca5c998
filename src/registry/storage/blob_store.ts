/**
 * The blob store: content-addressed blobs shared by all repositories (`blobs/`) and the
 * uploads that fill it (`uploads/`), with the blob size cache. Part of {@link RegistryStorage}
 * (`storage.ts`), which documents the interface; paths come from `layout.ts`.
 */
import { DIGEST_ALGORITHMS, type DigestAlgorithm, Hasher, parseDigest } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import type { ReadOptions, StorageDriver } from "./driver.ts";
import { isUploadId, layout, UPLOADS_DIR } from "./layout.ts";
import { pumpUpload, toStream, type UploadState } from "./upload_pump.ts";

/** A stored blob. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** An upload in progress. */
export interface UploadInfo {
  id: string;
  size: number;
  mtimeMs: number;
}

/** What a finished upload must be: its digest (or the algorithm to name it by) and size. */
export interface BlobExpectation {
  digest?: string;
  size?: number;
  algorithm?: DigestAlgorithm;
}

const SIZE_CACHE_ENTRIES = 100_000;

/** The algorithm an upload is hashed with: the expected digest's, else the one asked for. */
function algorithmOf(expect: BlobExpectation): DigestAlgorithm {
  return expect.digest ? parseDigest(expect.digest).algorithm : expect.algorithm ?? "sha256";
}

/**
 * The digest of what an upload received, once its size and digest are what `expect` says
 * (`SIZE_INVALID` or `DIGEST_INVALID` otherwise).
 */
function checkedDigest(state: UploadState, expect: BlobExpectation): string {
  if (expect.size !== undefined && expect.size !== state.size) {
    throw new RegistryError(
      "SIZE_INVALID",
      `Upload has ${state.size} bytes, expected ${expect.size}`,
    );
  }
  const digest = state.hasher.digest();
  if (expect.digest !== undefined && expect.digest !== digest) {
    throw new RegistryError(
      "DIGEST_INVALID",
      `Upload has digest "${digest}", expected "${expect.digest}"`,
    );
  }
  return digest;
}

/** Blobs and uploads on a driver; see the module comment. */
export class BlobStore {
  readonly #sizeCache = new Map<string, number>();
  readonly #uploads = new Map<string, UploadState>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(readonly driver: StorageDriver) {}

  // ---- blobs -------------------------------------------------------------------------------

  /** Size of a stored blob, or undefined. */
  async statBlob(digest: string): Promise<BlobInfo | undefined> {
    const cached = this.#sizeCache.get(digest);
    const path = layout.blob(digest);
    if (cached !== undefined) return { digest, size: cached };
    const info = await this.driver.stat(path);
    if (!info || info.isDirectory) return undefined;
    this.#rememberSize(digest, info.size);
    return { digest, size: info.size };
  }

  /** The size of a blob when it is cached (no disk access), else undefined. */
  cachedSize(digest: string): number | undefined {
    return this.#sizeCache.get(digest);
  }

  /** True when the blob is stored. */
  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /**
   * Streams a blob (or `length` bytes from `offset`); undefined when it is not stored. `options`
   * as in {@link StorageDriver.openRead}.
   */
  async openBlob(
    digest: string,
    range?: { offset: number; length: number },
    options?: ReadOptions,
  ): Promise<{ size: number; stream: ReadableStream<Uint8Array> } | undefined> {
    const info = await this.statBlob(digest);
    if (!info) return undefined;
    const offset = range?.offset ?? 0;
    const length = range?.length ?? info.size - offset;
    const stream = await this.driver.openRead(layout.blob(digest), offset, length, options);
    if (!stream) {
      this.#sizeCache.delete(digest);
      return undefined;
    }
    return { size: info.size, stream };
  }

  /**
   * Stores a blob from a stream or bytes, checking `digest` and `size` when given: one temp
   * file in `uploads/`, written and hashed, checked, fsynced and renamed into `blobs/`; removed
   * on any failure.
   */
  async putBlob(
    body: ReadableStream<Uint8Array> | Uint8Array | null,
    expect: BlobExpectation = {},
  ): Promise<BlobInfo> {
    const state: UploadState = { hasher: new Hasher(algorithmOf(expect)), size: 0 };
    const path = layout.upload(crypto.randomUUID());
    const handle = (await this.driver.openAppend(path, true))!;
    try {
      await pumpUpload(toStream(body), handle, state);
      let digest: string;
      try {
        digest = checkedDigest(state, expect);
      } catch (err) {
        handle.abort();
        throw err;
      }
      await handle.close(true);
      await this.driver.rename(path, layout.blob(digest));
      this.#rememberSize(digest, state.size);
      return { digest, size: state.size };
    } catch (err) {
      await this.driver.remove(path);
      throw err;
    }
  }

  /** Removes a blob from the content store (garbage collection); false when absent. */
  async deleteBlob(digest: string): Promise<boolean> {
    this.#sizeCache.delete(digest);
    return await this.driver.remove(layout.blob(digest));
  }

  /** Every stored blob digest (with size and time, for gc and verify). */
  async *listBlobs(): AsyncGenerator<BlobInfo & { mtimeMs: number }> {
    for (const algorithm of Object.keys(DIGEST_ALGORITHMS) as DigestAlgorithm[]) {
      for (const prefix of await this.driver.list(layout.blobs(algorithm))) {
        if (!prefix.isDirectory) continue;
        for (const entry of await this.driver.list(layout.blobPrefix(algorithm, prefix.name))) {
          const digest = `${algorithm}:${entry.name}`;
          if (entry.isDirectory || !/^[a-f0-9]+$/.test(entry.name)) continue;
          const info = await this.driver.stat(layout.blob(digest));
          if (info) yield { digest, size: info.size, mtimeMs: info.mtimeMs };
        }
      }
    }
  }

  /**
   * The references whose declared size differs from the stored content's (pulls of them would
   * fail with a size mismatch), with the stored size; content that is not stored is not judged.
   */
  async wrongSizes(
    references: { digest: string; size: number }[],
  ): Promise<{ digest: string; size: number; stored: number }[]> {
    const out = [];
    for (const { digest, size } of references) {
      const stored = await this.statBlob(digest);
      if (stored && stored.size !== size) out.push({ digest, size, stored: stored.size });
    }
    return out;
  }

  #rememberSize(digest: string, size: number): void {
    if (this.#sizeCache.size >= SIZE_CACHE_ENTRIES) this.#sizeCache.clear();
    this.#sizeCache.set(digest, size);
  }

  // ---- uploads -----------------------------------------------------------------------------

  /** Starts an empty upload; returns its id. */
  async startUpload(algorithm: DigestAlgorithm = "sha256"): Promise<string> {
    const id = crypto.randomUUID();
    const handle = await this.driver.openAppend(layout.upload(id), true);
    await handle!.close(false);
    this.#uploads.set(id, { hasher: new Hasher(algorithm), size: 0 });
    return id;
  }

  /** Bytes received so far by upload `id`, or undefined when there is no such upload. */
  async uploadSize(id: string): Promise<number | undefined> {
    if (!isUploadId(id)) return undefined;
    return (await this.driver.stat(layout.upload(id)))?.size;
  }

  /**
   * Appends a body to upload `id`, hashing as it is written. When `offset` is given it must
   * equal the bytes received so far (else `RANGE_INVALID`). When `length` is given the body
   * must have exactly that many bytes: otherwise (or when the body fails) nothing of it stays
   * appended and the answer is `RANGE_INVALID` (or the body's error). Returns the new size.
   */
  appendUpload(
    id: string,
    body: ReadableStream<Uint8Array> | Uint8Array | null,
    offset?: number,
    length?: number,
  ): Promise<number> {
    return this.#locked(`upload:${id}`, async () => {
      const state = await this.#uploadState(id);
      if (offset !== undefined && offset !== state.size) {
        await toStream(body).cancel().catch(() => {});
        throw new RegistryError(
          "RANGE_INVALID",
          `Chunk starts at ${offset} but the upload has ${state.size} bytes`,
        );
      }
      const handle = await this.driver.openAppend(layout.upload(id), false);
      if (!handle) throw this.#unknownUpload(id);
      const before = state.size;
      try {
        const received = await pumpUpload(toStream(body), handle, state, length);
        await handle.close(false);
        if (length !== undefined && received !== length) {
          throw new RegistryError(
            "RANGE_INVALID",
            `Chunk has ${received} bytes, but ${length} were announced`,
          );
        }
      } catch (err) {
        // The hash no longer matches what stays in the file: it is rebuilt from the data on
        // next use. A chunk of announced length is dropped whole.
        this.#uploads.delete(id);
        if (length !== undefined) await this.driver.truncate(layout.upload(id), before);
        throw err;
      }
      return state.size;
    });
  }

  /** Hash state of an upload: kept in memory, or rebuilt from its data (after a restart). */
  async #uploadState(id: string, algorithm: DigestAlgorithm = "sha256"): Promise<UploadState> {
    if (!isUploadId(id)) throw this.#unknownUpload(id);
    const known = this.#uploads.get(id);
    if (known) return known;
    const info = await this.driver.stat(layout.upload(id));
    if (!info) throw this.#unknownUpload(id);
    const state: UploadState = { hasher: new Hasher(algorithm), size: 0 };
    const stream = await this.driver.openRead(layout.upload(id), 0, info.size);
    if (!stream) throw this.#unknownUpload(id);
    for await (const chunk of stream) {
      state.hasher.update(chunk);
      state.size += chunk.length;
    }
    this.#uploads.set(id, state);
    return state;
  }

  /**
   * Finishes upload `id`: checks digest (and size when given), fsyncs and moves the data into
   * the content store. On a mismatch the upload is removed and nothing is stored.
   */
  commitUpload(id: string, expect: BlobExpectation): Promise<BlobInfo> {
    return this.#locked(`upload:${id}`, async () => {
      const algorithm = algorithmOf(expect);
      let state = await this.#uploadState(id, algorithm);
      if (state.hasher.algorithm !== algorithm) {
        this.#uploads.delete(id);
        state = await this.#uploadState(id, algorithm);
      }
      this.#uploads.delete(id);
      const path = layout.upload(id);
      let digest: string;
      try {
        digest = checkedDigest(state, expect);
      } catch (err) {
        await this.driver.remove(path);
        throw err;
      }
      const handle = await this.driver.openAppend(path, false);
      if (!handle) throw this.#unknownUpload(id);
      await handle.close(true);
      await this.driver.rename(path, layout.blob(digest));
      this.#rememberSize(digest, state.size);
      return { digest, size: state.size };
    });
  }

  /** Cancels an upload and removes its data and session record; false when it had no data. */
  async cancelUpload(id: string): Promise<boolean> {
    if (!isUploadId(id)) return false;
    this.#uploads.delete(id);
    await this.driver.remove(layout.uploadSession(id));
    return await this.driver.remove(layout.upload(id));
  }

  /** Uploads in progress (including ones abandoned by a crash). */
  async listUploads(): Promise<UploadInfo[]> {
    const out: UploadInfo[] = [];
    for (const e of await this.driver.list(UPLOADS_DIR)) {
      if (!isUploadId(e.name)) continue;
      const info = await this.driver.stat(layout.upload(e.name));
      if (info) out.push({ id: e.name, size: info.size, mtimeMs: info.mtimeMs });
    }
    return out;
  }

  #unknownUpload(id: string): RegistryError {
    return new RegistryError("BLOB_UPLOAD_UNKNOWN", `Upload "${id.slice(0, 64)}" is not known`);
  }

  async #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(fn);
    this.#locks.set(key, run);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === run) this.#locks.delete(key);
    }
  }
}

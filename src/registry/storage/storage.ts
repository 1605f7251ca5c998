/**
 * The registry's storage: content-addressed blobs shared by all repositories, per-repository
 * blob links, manifests (stored as blobs plus a revision link), tags and referrers. It runs on a
 * {@link StorageDriver}: `openDiskStorage(dir)` for a directory, `openMemoryStorage()` for tests.
 * The on-disk layout is drawn in `layout.ts`.
 *
 * Interface summary (for writers such as the bundle loader, which may run in another process
 * on the same directory at the same time):
 *
 * - Blobs (global, immutable): `putBlob(body, {digest?, size?})` streams a `ReadableStream` or
 *   bytes into `uploads/`, hashing while writing, checks digest and size, fsyncs and renames it
 *   into `blobs/` (nothing is left behind on failure); `statBlob(digest)` / `hasBlob(digest)`;
 *   `openBlob(digest, {offset, length})` streams it out; `deleteBlob(digest)` (used by gc).
 * - Repository links: `linkBlob(repo, digest)` makes a stored blob part of `repo`;
 *   `statRepoBlob(repo, digest)`, `unlinkBlob(repo, digest)`, `mountBlob(from, to, digest)`,
 *   `listBlobLinks(repo)`.
 * - Uploads (chunked, resumable): `startUpload()`, `appendUpload(id, body, offset?, length?)`,
 *   `uploadSize(id)`, `commitUpload(id, {digest, size?})`, `cancelUpload(id)`, `listUploads()`.
 *   HTTP upload sessions (bound to a repository, capped, expired) are `upload_sessions.ts`.
 * - Manifests: `putManifest(repo, bytes, {reference?, contentType?})` validates the JSON, checks
 *   that referenced blobs/manifests are in `repo`, stores it, records its `subject` for the
 *   referrers API and, when `reference` is a tag, points the tag at it (atomic rename, so a
 *   tag moves from one complete manifest to another). `getManifest(repo, tagOrDigest)`,
 *   `tagManifest(repo, tag, digest)`, `deleteManifest(repo, digest)`, `deleteTag(repo, tag)`.
 * - Listing: `listRepositories()`, `listTags(repo)` (sorted; undefined for an unknown repo),
 *   `listRevisions(repo)`, `referrers(repo, subject, artifactType?)`, `listBlobs()`.
 *
 * Failures are {@link RegistryError}s carrying an OCI code (`BLOB_UNKNOWN`, `DIGEST_INVALID`, ...).
 * No state lives in memory that a restart or another process would need: a tag written by
 * another process is visible on the next request. Only immutable content is cached (manifest
 * bytes and blob sizes, by digest).
 */
import { DIGEST_ALGORITHMS, type DigestAlgorithm, Hasher, parseDigest } from "../digest.ts";
import { BodyReadError, RegistryError } from "../errors.ts";
import { type Descriptor, MEDIA_TYPES, parseManifest } from "../manifest.ts";
import { checkRepositoryName, checkTag, isRepositoryName } from "../names.ts";
import { DiskDriver } from "./disk_driver.ts";
import type { AppendHandle, StorageDriver } from "./driver.ts";
import { isUploadId, layout, MANIFESTS_DIR, UPLOADS_DIR } from "./layout.ts";
import { MemoryDriver } from "./memory_driver.ts";

/** A stored blob. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** A stored manifest. */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}

/** An upload in progress. */
export interface UploadInfo {
  id: string;
  size: number;
  mtimeMs: number;
}

/** Options of {@link RegistryStorage.putManifest}. */
export interface PutManifestOptions {
  /** Tag to point at the manifest, or the digest it must have. */
  reference?: string;
  /** The `Content-Type` it was sent with. */
  contentType?: string;
}

/** Result of {@link RegistryStorage.putManifest}. */
export interface PutManifestResult {
  digest: string;
  /** The subject's digest when the manifest has one (the `OCI-Subject` header). */
  subject?: string;
}

interface UploadState {
  hasher: Hasher;
  size: number;
}

const EMPTY = new Uint8Array(0);
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;
const SIZE_CACHE_ENTRIES = 100_000;
/** Uploads are read and written in blocks of this size. */
const PUMP_BUFFER = 1 << 20;

function toStream(
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

/** True when `reference` looks like a digest (has an algorithm prefix). */
function isDigestReference(reference: string): boolean {
  return reference.includes(":");
}

/** The registry storage on a driver; see the module comment for the interface. */
export class RegistryStorage {
  readonly #manifestCache = new Map<string, StoredManifest>();
  #manifestCacheBytes = 0;
  readonly #sizeCache = new Map<string, number>();
  readonly #uploads = new Map<string, UploadState>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(readonly driver: StorageDriver) {}

  /** Where the storage lives. */
  get location(): string {
    return this.driver.location;
  }

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

  /** True when the blob is stored. */
  async hasBlob(digest: string): Promise<boolean> {
    return (await this.statBlob(digest)) !== undefined;
  }

  /** Streams a blob (or `length` bytes from `offset`); undefined when it is not stored. */
  async openBlob(
    digest: string,
    range?: { offset: number; length: number },
  ): Promise<{ size: number; stream: ReadableStream<Uint8Array> } | undefined> {
    const info = await this.statBlob(digest);
    if (!info) return undefined;
    const offset = range?.offset ?? 0;
    const length = range?.length ?? info.size - offset;
    const stream = await this.driver.openRead(layout.blob(digest), offset, length);
    if (!stream) {
      this.#sizeCache.delete(digest);
      return undefined;
    }
    return { size: info.size, stream };
  }

  /** Stores a blob from a stream or bytes, checking `digest` and `size` when given. */
  async putBlob(
    body: ReadableStream<Uint8Array> | Uint8Array | null,
    expect: { digest?: string; size?: number; algorithm?: DigestAlgorithm } = {},
  ): Promise<BlobInfo> {
    if (expect.digest) parseDigest(expect.digest);
    const algorithm = expect.digest
      ? parseDigest(expect.digest).algorithm
      : expect.algorithm ?? "sha256";
    const id = await this.startUpload(algorithm);
    try {
      await this.appendUpload(id, body);
      return await this.commitUpload(id, {
        digest: expect.digest,
        size: expect.size,
        algorithm,
      });
    } finally {
      this.#uploads.delete(id);
      await this.driver.remove(layout.upload(id));
    }
  }

  /** Removes a blob from the content store (garbage collection); false when absent. */
  async deleteBlob(digest: string): Promise<boolean> {
    this.#sizeCache.delete(digest);
    this.#forgetManifest(digest);
    return await this.driver.remove(layout.blob(digest));
  }

  /** Every stored blob digest (with size and time, for gc and verify). */
  async *listBlobs(): AsyncGenerator<BlobInfo & { mtimeMs: number }> {
    for (const algorithm of Object.keys(DIGEST_ALGORITHMS)) {
      const base = layout.blobs(algorithm as DigestAlgorithm);
      for (const prefix of await this.driver.list(base)) {
        if (!prefix.isDirectory) continue;
        for (
          const entry of await this.driver.list(
            layout.blobPrefix(algorithm as DigestAlgorithm, prefix.name),
          )
        ) {
          const digest = `${algorithm}:${entry.name}`;
          if (entry.isDirectory || !/^[a-f0-9]+$/.test(entry.name)) continue;
          const info = await this.driver.stat(layout.blob(digest));
          if (info) yield { digest, size: info.size, mtimeMs: info.mtimeMs };
        }
      }
    }
  }

  #rememberSize(digest: string, size: number): void {
    if (this.#sizeCache.size >= SIZE_CACHE_ENTRIES) this.#sizeCache.clear();
    this.#sizeCache.set(digest, size);
  }

  // ---- repository links --------------------------------------------------------------------

  /** Links a stored blob into `repo`; `BLOB_UNKNOWN` when the blob is not stored. */
  async linkBlob(repo: string, digest: string): Promise<void> {
    const path = layout.blobLink(repo, digest);
    if (!(await this.hasBlob(digest))) {
      throw new RegistryError("BLOB_UNKNOWN", `Blob "${digest}" is not stored`);
    }
    if (!(await this.driver.stat(path))) await this.driver.writeFile(path, EMPTY);
  }

  /** The blob when it is linked into `repo` and stored, else undefined. */
  async statRepoBlob(repo: string, digest: string): Promise<BlobInfo | undefined> {
    if (!(await this.driver.stat(layout.blobLink(repo, digest)))) return undefined;
    return await this.statBlob(digest);
  }

  /** Digests of the blobs linked into `repo`. */
  async listBlobLinks(repo: string): Promise<string[]> {
    return await this.#listDigestEntries(layout.blobLinks(repo));
  }

  /** Digests named by the files of a `<dir>/<algorithm>/<hex>` tree (dot files left out). */
  async #listDigestEntries(dir: string): Promise<string[]> {
    const out: string[] = [];
    for (const alg of await this.driver.list(dir)) {
      if (!(alg.name in DIGEST_ALGORITHMS)) continue;
      const links = layout.digestLinks(dir, alg.name as DigestAlgorithm);
      for (const e of await this.driver.list(links)) {
        if (!e.isDirectory && !e.name.startsWith(".")) out.push(`${alg.name}:${e.name}`);
      }
    }
    return out;
  }

  /** Removes the blob's link from `repo` (the content stays until gc); false when not linked. */
  async unlinkBlob(repo: string, digest: string): Promise<boolean> {
    return await this.driver.remove(layout.blobLink(repo, digest));
  }

  /** Links a blob of repository `from` into `to`; false when `from` does not have it. */
  async mountBlob(from: string, to: string, digest: string): Promise<BlobInfo | undefined> {
    const info = await this.statRepoBlob(from, digest);
    if (!info) return undefined;
    await this.linkBlob(to, digest);
    return info;
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
        const received = await this.#pump(toStream(body), handle, state, length);
        if (length !== undefined && received !== length) {
          throw new RegistryError(
            "RANGE_INVALID",
            `Chunk has ${received} bytes, but ${length} were announced`,
          );
        }
      } catch (err) {
        if (length !== undefined) {
          // The hash has seen the chunk: drop it (it is rebuilt from the data on next use).
          this.#uploads.delete(id);
          await this.driver.truncate(layout.upload(id), before);
        }
        throw err;
      }
      return state.size;
    });
  }

  /**
   * Copies a body into an upload, hashing as it goes, and returns the bytes it had. Byte
   * streams (request bodies) are read with a BYOB reader into one reused 1 MiB buffer, so an
   * upload allocates nothing per chunk (server RSS stays flat however large the blob). A body
   * longer than `limit` fails with `RANGE_INVALID` before the excess is written.
   */
  async #pump(
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
      // The hash no longer matches the file; rebuild it from the file on next use.
      for (const [k, v] of this.#uploads) if (v === state) this.#uploads.delete(k);
      throw err;
    } finally {
      reader.releaseLock();
    }
    await handle.close(false);
    return received;
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
  commitUpload(
    id: string,
    expect: { digest?: string; size?: number; algorithm?: DigestAlgorithm },
  ): Promise<BlobInfo> {
    return this.#locked(`upload:${id}`, async () => {
      const algorithm = expect.digest
        ? parseDigest(expect.digest).algorithm
        : expect.algorithm ?? "sha256";
      let state = await this.#uploadState(id, algorithm);
      if (state.hasher.algorithm !== algorithm) {
        this.#uploads.delete(id);
        state = await this.#uploadState(id, algorithm);
      }
      this.#uploads.delete(id);
      const digest = state.hasher.digest();
      const path = layout.upload(id);
      if (expect.size !== undefined && expect.size !== state.size) {
        await this.driver.remove(path);
        throw new RegistryError(
          "SIZE_INVALID",
          `Upload has ${state.size} bytes, expected ${expect.size}`,
        );
      }
      if (expect.digest !== undefined && expect.digest !== digest) {
        await this.driver.remove(path);
        throw new RegistryError(
          "DIGEST_INVALID",
          `Upload has digest "${digest}", expected "${expect.digest}"`,
        );
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

  // ---- manifests and tags ------------------------------------------------------------------

  /** Validates and stores a manifest in `repo`; see {@link PutManifestOptions}. */
  async putManifest(
    repo: string,
    bytes: Uint8Array,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    checkRepositoryName(repo);
    const ref = options.reference;
    const algorithm = ref && isDigestReference(ref) ? parseDigest(ref).algorithm : "sha256";
    if (ref && !isDigestReference(ref)) checkTag(ref);
    const info = parseManifest(bytes, options.contentType);
    const h = new Hasher(algorithm);
    h.update(bytes);
    const digest = h.digest();
    if (ref && isDigestReference(ref) && ref !== digest) {
      throw new RegistryError(
        "DIGEST_INVALID",
        `Manifest has digest "${digest}", not "${ref}"`,
      );
    }
    for (const blob of info.blobs) {
      if (!(await this.statRepoBlob(repo, blob))) {
        throw new RegistryError(
          "MANIFEST_BLOB_UNKNOWN",
          `Manifest references blob "${blob}" that is not in "${repo}"`,
          { digest: blob },
        );
      }
    }
    for (const child of info.manifests) {
      if (!(await this.driver.stat(layout.revision(repo, child)))) {
        throw new RegistryError(
          "MANIFEST_BLOB_UNKNOWN",
          `Index references manifest "${child}" that is not in "${repo}"`,
          { digest: child },
        );
      }
    }
    const [wrong] = await this.wrongSizes(info.references);
    if (wrong) {
      throw new RegistryError(
        "MANIFEST_INVALID",
        `Manifest invalid: it declares ${wrong.size} bytes for "${wrong.digest}", which has ` +
          `${wrong.stored}`,
        { digest: wrong.digest, size: wrong.size, stored: wrong.stored },
      );
    }
    if (!(await this.hasBlob(digest))) await this.putBlob(bytes, { digest });
    await this.driver.writeFile(layout.revision(repo, digest), EMPTY);
    if (info.subject) {
      await this.driver.writeFile(layout.referrer(repo, info.subject.digest, digest), EMPTY);
    }
    if (ref && !isDigestReference(ref)) await this.#writeTag(repo, ref, digest);
    this.#cacheManifest({ digest, mediaType: info.mediaType, bytes });
    return { digest, subject: info.subject?.digest };
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

  /** The manifest `reference` (tag or digest) of `repo`, or undefined. */
  async getManifest(repo: string, reference: string): Promise<StoredManifest | undefined> {
    let digest: string | undefined;
    if (isDigestReference(reference)) {
      parseDigest(reference);
      if (!(await this.driver.stat(layout.revision(repo, reference)))) return undefined;
      digest = reference;
    } else {
      digest = await this.resolveTag(repo, reference);
      if (!digest) return undefined;
    }
    return await this.#readManifest(digest);
  }

  /** The digest tag `tag` of `repo` points at, or undefined. */
  async resolveTag(repo: string, tag: string): Promise<string | undefined> {
    const bytes = await this.driver.readFile(layout.tag(repo, tag));
    if (!bytes) return undefined;
    const digest = new TextDecoder().decode(bytes).trim();
    try {
      parseDigest(digest);
    } catch {
      return undefined;
    }
    return digest;
  }

  /** Points `tag` of `repo` at the manifest `digest` (which must be in `repo`). */
  async tagManifest(repo: string, tag: string, digest: string): Promise<void> {
    checkTag(tag);
    if (!(await this.driver.stat(layout.revision(repo, digest)))) {
      throw new RegistryError("MANIFEST_UNKNOWN", `Manifest "${digest}" is not in "${repo}"`);
    }
    await this.#writeTag(repo, tag, digest);
  }

  async #writeTag(repo: string, tag: string, digest: string): Promise<void> {
    await this.driver.writeFile(layout.tag(repo, tag), new TextEncoder().encode(digest + "\n"));
  }

  /**
   * Temp files of tag writes interrupted by a crash in `repo` (invisible to clients), last
   * modified before `before`; removed unless `dryRun`. Returns how many there were.
   */
  async removeStaleTagTemps(repo: string, before: number, dryRun: boolean): Promise<number> {
    let count = 0;
    for (const e of await this.driver.list(layout.tags(repo))) {
      if (e.isDirectory || !/^\..*\.tmp$/.test(e.name)) continue;
      const path = layout.tagTemp(repo, e.name);
      const info = await this.driver.stat(path);
      if (!info || info.mtimeMs >= before) continue;
      if (!dryRun) await this.driver.remove(path);
      count++;
    }
    return count;
  }

  /** Deletes a tag; false when it did not exist. */
  async deleteTag(repo: string, tag: string): Promise<boolean> {
    return await this.driver.remove(layout.tag(repo, tag));
  }

  /**
   * Deletes manifest `digest` from `repo`, with the tags pointing at it and its referrer
   * link. The bytes stay in the content store until gc. False when it was not in `repo`.
   */
  async deleteManifest(repo: string, digest: string): Promise<boolean> {
    const revision = layout.revision(repo, digest);
    if (!(await this.driver.stat(revision))) return false;
    for (const tag of (await this.listTags(repo)) ?? []) {
      if ((await this.resolveTag(repo, tag)) === digest) await this.deleteTag(repo, tag);
    }
    const manifest = await this.#readManifest(digest);
    if (manifest) {
      try {
        const subject = parseManifest(manifest.bytes).subject;
        if (subject) await this.driver.remove(layout.referrer(repo, subject.digest, digest));
      } catch {
        // A stored manifest that no longer parses has no referrer link to remove.
      }
    }
    return await this.driver.remove(revision);
  }

  /** Tags of `repo`, sorted; undefined when the repository does not exist. */
  async listTags(repo: string): Promise<string[] | undefined> {
    if (!(await this.repositoryExists(repo))) return undefined;
    return (await this.driver.list(layout.tags(repo)))
      .filter((e) => !e.isDirectory && !e.name.startsWith("."))
      .map((e) => e.name)
      .sort();
  }

  /** Manifest digests stored in `repo`. */
  async listRevisions(repo: string): Promise<string[]> {
    return await this.#listDigestEntries(layout.revisions(repo));
  }

  /** True when `repo` has a manifest or tag directory (a push reached it). */
  async repositoryExists(repo: string): Promise<boolean> {
    if (!isRepositoryName(repo)) return false;
    return (await this.driver.stat(layout.manifests(repo))) !== undefined;
  }

  /** Every repository with manifests, sorted. */
  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (name: string) => {
      const entries = await this.driver.list(layout.repositoryWalk(name));
      if (name && entries.some((e) => e.name === MANIFESTS_DIR && e.isDirectory)) out.push(name);
      for (const e of entries) {
        if (!e.isDirectory || e.name.startsWith("_") || e.name.startsWith(".")) continue;
        await walk(name ? `${name}/${e.name}` : e.name);
      }
    };
    await walk("");
    return out.sort();
  }

  /** Descriptors of manifests in `repo` whose subject is `subject`, optionally filtered. */
  async referrers(repo: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const e of await this.driver.list(layout.referrers(repo, subject))) {
      const digest = layout.referrerDigest(e.name);
      if (!digest) continue;
      const m = await this.getManifest(repo, digest);
      if (!m) continue;
      const info = parseManifest(m.bytes);
      if (artifactType !== undefined && info.artifactType !== artifactType) continue;
      const d: Descriptor = { mediaType: m.mediaType, digest, size: m.bytes.length };
      if (info.artifactType) d.artifactType = info.artifactType;
      if (info.annotations) d.annotations = info.annotations;
      out.push(d);
    }
    return out.sort((a, b) => a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0);
  }

  async #readManifest(digest: string): Promise<StoredManifest | undefined> {
    const cached = this.#manifestCache.get(digest);
    if (cached) return cached;
    const bytes = await this.driver.readFile(layout.blob(digest));
    if (!bytes) return undefined;
    let mediaType: string;
    try {
      mediaType = parseManifest(bytes).mediaType;
    } catch {
      mediaType = MEDIA_TYPES.ociManifest;
    }
    const m = { digest, mediaType, bytes };
    this.#cacheManifest(m);
    return m;
  }

  #cacheManifest(m: StoredManifest): void {
    if (this.#manifestCache.has(m.digest) || m.bytes.length > MANIFEST_CACHE_BYTES / 16) return;
    while (this.#manifestCacheBytes + m.bytes.length > MANIFEST_CACHE_BYTES) {
      const oldest = this.#manifestCache.keys().next().value as string;
      this.#forgetManifest(oldest);
    }
    this.#manifestCache.set(m.digest, m);
    this.#manifestCacheBytes += m.bytes.length;
  }

  #forgetManifest(digest: string): void {
    const m = this.#manifestCache.get(digest);
    if (!m) return;
    this.#manifestCache.delete(digest);
    this.#manifestCacheBytes -= m.bytes.length;
  }
}

/** Storage on the directory `dir` (created on first write). */
export function openDiskStorage(dir: string): RegistryStorage {
  return new RegistryStorage(new DiskDriver(dir));
}

/** Storage in memory (tests). */
export function openMemoryStorage(): RegistryStorage {
  return new RegistryStorage(new MemoryDriver());
}

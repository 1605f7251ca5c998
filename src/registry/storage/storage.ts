/**
 * The registry's storage: content-addressed blobs shared by all repositories, per-repository
 * blob links, manifests (stored as blobs plus a revision link), tags and referrers. It runs on a
 * {@link StorageDriver}: `openDiskStorage(dir)` for a directory, `openMemoryStorage()` for tests.
 * The on-disk layout is drawn in `layout.ts`. {@link RegistryStorage} is a thin facade over two
 * stores: the blob store (`blob_store.ts`: blobs, uploads and the upload pump, blob size cache)
 * and the repository store (`repository_store.ts`: links, manifests, tags, referrers, manifest
 * cache).
 *
 * Interface summary (for writers such as the bundle loader, which may run in another process
 * on the same directory at the same time):
 *
 * - Blobs (global, immutable): `putBlob(body, {digest?, size?})` streams a `ReadableStream` or
 *   bytes into one temp file in `uploads/`, hashing while writing, checks digest and size,
 *   fsyncs and renames it into `blobs/` (nothing is left behind on failure); `statBlob(digest)` / `hasBlob(digest)`;
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
 * - Hot reads: `peekManifest(repo, ref)` and `peekRepoBlob(repo, digest)` answer from memory
 *   without waiting, or undefined (then ask `getManifest` / `statRepoBlob`).
 * - Listing: `listRepositories()`, `listTags(repo)` (sorted; undefined for an unknown repo),
 *   `listRevisions(repo)`, `referrers(repo, subject, artifactType?)`, `listBlobs()`.
 *
 * Failures are {@link RegistryError}s carrying an OCI code (`BLOB_UNKNOWN`, `DIGEST_INVALID`, ...).
 * No state lives in memory that a restart or another process would need. Tags, revisions and
 * blob links are held in an index (`metadata_index.ts`) that every write through this code, in
 * any process, invalidates through the storage's generation file, so a tag written by another
 * process is visible on the next request; immutable content is cached by digest (manifest
 * bytes and blob sizes).
 */
import type { DigestAlgorithm } from "../digest.ts";
import type { Descriptor } from "../manifest.ts";
import { type BlobExpectation, type BlobInfo, BlobStore, type UploadInfo } from "./blob_store.ts";
import { DiskDriver } from "./disk_driver.ts";
import type { ReadOptions, StorageDriver } from "./driver.ts";
import { MemoryDriver } from "./memory_driver.ts";
import {
  type PutManifestOptions,
  type PutManifestResult,
  RepositoryStore,
  type StoredManifest,
} from "./repository_store.ts";

export type { BlobInfo, UploadInfo } from "./blob_store.ts";
export type { PutManifestOptions, PutManifestResult, StoredManifest } from "./repository_store.ts";

/** The registry storage on a driver; see the module comment for the interface. */
export class RegistryStorage {
  /** Blobs and uploads. */
  readonly blobs: BlobStore;
  /** Blob links, manifests, tags and referrers. */
  readonly repositories: RepositoryStore;

  constructor(readonly driver: StorageDriver) {
    this.blobs = new BlobStore(driver);
    this.repositories = new RepositoryStore(driver, this.blobs);
  }

  /** Where the storage lives. */
  get location(): string {
    return this.driver.location;
  }

  // ---- blobs ({@link BlobStore}) -----------------------------------------------------------

  /** Size of a stored blob, or undefined. */
  statBlob(digest: string): Promise<BlobInfo | undefined> {
    return this.blobs.statBlob(digest);
  }

  /** True when the blob is stored. */
  hasBlob(digest: string): Promise<boolean> {
    return this.blobs.hasBlob(digest);
  }

  /**
   * Streams a blob (or `length` bytes from `offset`); undefined when it is not stored. With
   * `forResponse`, only for a stream handed straight to a `Response` (see `ReadOptions`).
   */
  openBlob(
    digest: string,
    range?: { offset: number; length: number },
    options?: ReadOptions,
  ): Promise<{ size: number; stream: ReadableStream<Uint8Array> } | undefined> {
    return this.blobs.openBlob(digest, range, options);
  }

  /** Stores a blob from a stream or bytes, checking `digest` and `size` when given. */
  putBlob(
    body: ReadableStream<Uint8Array> | Uint8Array | null,
    expect: BlobExpectation = {},
  ): Promise<BlobInfo> {
    return this.blobs.putBlob(body, expect);
  }

  /** Removes a blob from the content store (garbage collection); false when absent. */
  deleteBlob(digest: string): Promise<boolean> {
    this.repositories.forgetManifest(digest);
    return this.blobs.deleteBlob(digest);
  }

  /** Every stored blob digest (with size and time, for gc and verify). */
  listBlobs(): AsyncGenerator<BlobInfo & { mtimeMs: number }> {
    return this.blobs.listBlobs();
  }

  /** The references whose declared size differs from the stored content's, with that size. */
  wrongSizes(
    references: { digest: string; size: number }[],
  ): Promise<{ digest: string; size: number; stored: number }[]> {
    return this.blobs.wrongSizes(references);
  }

  // ---- uploads ({@link BlobStore}) ---------------------------------------------------------

  /** Starts an empty upload; returns its id. */
  startUpload(algorithm: DigestAlgorithm = "sha256"): Promise<string> {
    return this.blobs.startUpload(algorithm);
  }

  /** Bytes received so far by upload `id`, or undefined when there is no such upload. */
  uploadSize(id: string): Promise<number | undefined> {
    return this.blobs.uploadSize(id);
  }

  /** Appends a body to upload `id` (see {@link BlobStore.appendUpload}); returns the new size. */
  appendUpload(
    id: string,
    body: ReadableStream<Uint8Array> | Uint8Array | null,
    offset?: number,
    length?: number,
  ): Promise<number> {
    return this.blobs.appendUpload(id, body, offset, length);
  }

  /** Finishes upload `id` into the content store (see {@link BlobStore.commitUpload}). */
  commitUpload(id: string, expect: BlobExpectation): Promise<BlobInfo> {
    return this.blobs.commitUpload(id, expect);
  }

  /** Cancels an upload and removes its data and session record; false when it had no data. */
  cancelUpload(id: string): Promise<boolean> {
    return this.blobs.cancelUpload(id);
  }

  /** Uploads in progress (including ones abandoned by a crash). */
  listUploads(): Promise<UploadInfo[]> {
    return this.blobs.listUploads();
  }

  // ---- repository links ({@link RepositoryStore}) ------------------------------------------

  /** Links a stored blob into `repo`; `BLOB_UNKNOWN` when the blob is not stored. */
  linkBlob(repo: string, digest: string): Promise<void> {
    return this.repositories.linkBlob(repo, digest);
  }

  /** The blob when it is linked into `repo` and stored, else undefined. */
  statRepoBlob(repo: string, digest: string): Promise<BlobInfo | undefined> {
    return this.repositories.statRepoBlob(repo, digest);
  }

  /** {@link statRepoBlob} when memory answers it at once (hot reads); undefined: ask it. */
  peekRepoBlob(repo: string, digest: string): BlobInfo | undefined {
    return this.repositories.peekRepoBlob(repo, digest);
  }

  /** Digests of the blobs linked into `repo`. */
  listBlobLinks(repo: string): Promise<string[]> {
    return this.repositories.listBlobLinks(repo);
  }

  /** Removes the blob's link from `repo` (the content stays until gc); false when not linked. */
  unlinkBlob(repo: string, digest: string): Promise<boolean> {
    return this.repositories.unlinkBlob(repo, digest);
  }

  /** Links a blob of repository `from` into `to`; undefined when `from` does not have it. */
  mountBlob(from: string, to: string, digest: string): Promise<BlobInfo | undefined> {
    return this.repositories.mountBlob(from, to, digest);
  }

  // ---- manifests and tags ({@link RepositoryStore}) ----------------------------------------

  /** Validates and stores a manifest in `repo`; see {@link PutManifestOptions}. */
  putManifest(
    repo: string,
    bytes: Uint8Array,
    options: PutManifestOptions = {},
  ): Promise<PutManifestResult> {
    return this.repositories.putManifest(repo, bytes, options);
  }

  /** The manifest `reference` (tag or digest) of `repo`, or undefined. */
  getManifest(repo: string, reference: string): Promise<StoredManifest | undefined> {
    return this.repositories.getManifest(repo, reference);
  }

  /** {@link getManifest} when memory answers it at once (hot reads); undefined: ask it. */
  peekManifest(repo: string, reference: string): StoredManifest | undefined {
    return this.repositories.peekManifest(repo, reference);
  }

  /** The digest tag `tag` of `repo` points at, or undefined. */
  resolveTag(repo: string, tag: string): Promise<string | undefined> {
    return this.repositories.resolveTag(repo, tag);
  }

  /** Points `tag` of `repo` at the manifest `digest` (which must be in `repo`). */
  tagManifest(repo: string, tag: string, digest: string): Promise<void> {
    return this.repositories.tagManifest(repo, tag, digest);
  }

  /** Stale temp files of interrupted tag writes in `repo` (see the repository store). */
  removeStaleTagTemps(repo: string, before: number, dryRun: boolean): Promise<number> {
    return this.repositories.removeStaleTagTemps(repo, before, dryRun);
  }

  /** Deletes a tag; false when it did not exist. */
  deleteTag(repo: string, tag: string): Promise<boolean> {
    return this.repositories.deleteTag(repo, tag);
  }

  /** Deletes manifest `digest` from `repo` with its tags and referrer link (not its bytes). */
  deleteManifest(repo: string, digest: string): Promise<boolean> {
    return this.repositories.deleteManifest(repo, digest);
  }

  // ---- listing ({@link RepositoryStore}) ---------------------------------------------------

  /** Tags of `repo`, sorted; undefined when the repository does not exist. */
  listTags(repo: string): Promise<string[] | undefined> {
    return this.repositories.listTags(repo);
  }

  /** Manifest digests stored in `repo`. */
  listRevisions(repo: string): Promise<string[]> {
    return this.repositories.listRevisions(repo);
  }

  /** True when `repo` has a manifest or tag directory (a push reached it). */
  repositoryExists(repo: string): Promise<boolean> {
    return this.repositories.repositoryExists(repo);
  }

  /** Every repository with manifests, sorted. */
  listRepositories(): Promise<string[]> {
    return this.repositories.listRepositories();
  }

  /** Descriptors of manifests in `repo` whose subject is `subject`, optionally filtered. */
  referrers(repo: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    return this.repositories.referrers(repo, subject, artifactType);
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

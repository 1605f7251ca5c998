/**
 * The repository store: what makes stored blobs into repositories (`repositories/`): blob
 * links, manifests (blobs plus a revision link), tags and referrers, with the manifest cache.
 * Part of {@link RegistryStorage} (`storage.ts`), which documents the interface; it stores
 * manifest bytes and checks blobs through the {@link BlobStore}. Paths come from `layout.ts`.
 * Reads of tags, revisions and links go through the {@link MetadataIndex}; every change to
 * them is reported to it after it is on disk (`#index.changed`), which tells other processes.
 */
import { DIGEST_ALGORITHMS, type DigestAlgorithm, Hasher, parseDigest } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { type Descriptor, MEDIA_TYPES, parseManifest } from "../manifest.ts";
import { checkRepositoryName, checkTag, isRepositoryName } from "../names.ts";
import type { BlobInfo, BlobStore } from "./blob_store.ts";
import type { StorageDriver } from "./driver.ts";
import { layout, MANIFESTS_DIR } from "./layout.ts";
import { MetadataIndex } from "./metadata_index.ts";

/** A stored manifest. */
export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
}

/** Options of {@link RepositoryStore.putManifest}. */
export interface PutManifestOptions {
  /** Tag to point at the manifest, or the digest it must have. */
  reference?: string;
  /** The `Content-Type` it was sent with. */
  contentType?: string;
}

/** Result of {@link RepositoryStore.putManifest}. */
export interface PutManifestResult {
  digest: string;
  /** The subject's digest when the manifest has one (the `OCI-Subject` header). */
  subject?: string;
}

const EMPTY = new Uint8Array(0);
const MANIFEST_CACHE_BYTES = 32 * 1024 * 1024;

/** True when `reference` looks like a digest (has an algorithm prefix). */
function isDigestReference(reference: string): boolean {
  return reference.includes(":");
}

/** Repositories on a driver, over a blob store; see the module comment. */
export class RepositoryStore {
  readonly #manifestCache = new Map<string, StoredManifest>();
  #manifestCacheBytes = 0;
  readonly #index: MetadataIndex;

  constructor(readonly driver: StorageDriver, readonly blobs: BlobStore) {
    this.#index = new MetadataIndex(driver);
  }

  // ---- repository links --------------------------------------------------------------------

  /** Links a stored blob into `repo`; `BLOB_UNKNOWN` when the blob is not stored. */
  async linkBlob(repo: string, digest: string): Promise<void> {
    const path = layout.blobLink(repo, digest);
    if (!(await this.blobs.hasBlob(digest))) {
      throw new RegistryError("BLOB_UNKNOWN", `Blob "${digest}" is not stored`);
    }
    if (await this.driver.stat(path)) return;
    await this.driver.writeFile(path, EMPTY);
    this.#index.changed(repo, { digest });
  }

  /** The blob when it is linked into `repo` and stored, else undefined. */
  async statRepoBlob(repo: string, digest: string): Promise<BlobInfo | undefined> {
    const linked = await this.#index.link(
      repo,
      digest,
      async () => (await this.driver.stat(layout.blobLink(repo, digest))) !== undefined,
    );
    if (!linked) return undefined;
    return await this.blobs.statBlob(digest);
  }

  /**
   * The blob when the index knows it is linked into `repo` and its size is cached, without
   * waiting (the hot read path); undefined means "ask {@link statRepoBlob}".
   */
  peekRepoBlob(repo: string, digest: string): BlobInfo | undefined {
    if (!this.#index.peekLink(repo, digest)) return undefined;
    const size = this.blobs.cachedSize(digest);
    return size === undefined ? undefined : { digest, size };
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
    const removed = await this.driver.remove(layout.blobLink(repo, digest));
    if (removed) this.#index.changed(repo, { digest });
    return removed;
  }

  /** Links a blob of repository `from` into `to`; false when `from` does not have it. */
  async mountBlob(from: string, to: string, digest: string): Promise<BlobInfo | undefined> {
    const info = await this.statRepoBlob(from, digest);
    if (!info) return undefined;
    await this.linkBlob(to, digest);
    return info;
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
    const [wrong] = await this.blobs.wrongSizes(info.references);
    if (wrong) {
      throw new RegistryError(
        "MANIFEST_INVALID",
        `Manifest invalid: it declares ${wrong.size} bytes for "${wrong.digest}", which has ` +
          `${wrong.stored}`,
        { digest: wrong.digest, size: wrong.size, stored: wrong.stored },
      );
    }
    if (!(await this.blobs.hasBlob(digest))) await this.blobs.putBlob(bytes, { digest });
    await this.driver.writeFile(layout.revision(repo, digest), EMPTY);
    this.#index.changed(repo, { digest });
    if (info.subject) {
      await this.driver.writeFile(layout.referrer(repo, info.subject.digest, digest), EMPTY);
    }
    if (ref && !isDigestReference(ref)) await this.#writeTag(repo, ref, digest);
    this.#cacheManifest({ digest, mediaType: info.mediaType, bytes });
    return { digest, subject: info.subject?.digest };
  }

  /**
   * The manifest `reference` (tag or digest) of `repo` when the index and the manifest cache
   * hold it, without waiting (the hot read path); undefined means "ask {@link getManifest}".
   */
  peekManifest(repo: string, reference: string): StoredManifest | undefined {
    const digest = isDigestReference(reference)
      ? (this.#index.peekRevision(repo, reference) ? reference : undefined)
      : this.#index.peekTag(repo, reference);
    return digest === undefined ? undefined : this.#manifestCache.get(digest);
  }

  /** The manifest `reference` (tag or digest) of `repo`, or undefined. */
  async getManifest(repo: string, reference: string): Promise<StoredManifest | undefined> {
    let digest: string | undefined;
    if (isDigestReference(reference)) {
      parseDigest(reference);
      const stored = await this.#index.revision(
        repo,
        reference,
        async () => (await this.driver.stat(layout.revision(repo, reference))) !== undefined,
      );
      if (!stored) return undefined;
      digest = reference;
    } else {
      digest = await this.resolveTag(repo, reference);
      if (!digest) return undefined;
    }
    return await this.#readManifest(digest);
  }

  /** The digest tag `tag` of `repo` points at, or undefined. */
  async resolveTag(repo: string, tag: string): Promise<string | undefined> {
    return (await this.#index.tag(repo, tag, () => this.#readTag(repo, tag))) ?? undefined;
  }

  /** The digest in the tag file, or null when there is none (or no digest in it). */
  async #readTag(repo: string, tag: string): Promise<string | null> {
    const bytes = await this.driver.readFile(layout.tag(repo, tag));
    if (!bytes) return null;
    const digest = new TextDecoder().decode(bytes).trim();
    try {
      parseDigest(digest);
    } catch {
      return null;
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
    this.#index.changed(repo, { tag });
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
    const removed = await this.driver.remove(layout.tag(repo, tag));
    if (removed) this.#index.changed(repo, { tag });
    return removed;
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
    const removed = await this.driver.remove(revision);
    if (removed) this.#index.changed(repo, { digest });
    return removed;
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
      this.forgetManifest(oldest);
    }
    this.#manifestCache.set(m.digest, m);
    this.#manifestCacheBytes += m.bytes.length;
  }

  /** Drops a manifest from the cache (its blob was deleted). */
  forgetManifest(digest: string): void {
    const m = this.#manifestCache.get(digest);
    if (!m) return;
    this.#manifestCache.delete(digest);
    this.#manifestCacheBytes -= m.bytes.length;
  }
}

/**
 * One replication pass from a source registry into the storage: lists every repository and
 * tag of the source, finds the tags whose manifest this storage does not hold under that tag,
 * reads their manifests (an index's children first), copies only the blobs that are missing,
 * each streamed into the storage's upload path, which checks its size and digest (a copy cut
 * off resumes with a `Range` request from what its upload holds), then stores the manifests and
 * only then writes the tag. Nothing from a source that lies about a digest is
 * stored or tagged.
 */
import type { RegistryClient } from "../../bundle/pushing/registry_client.ts";
import { errorMessage } from "../../errors.ts";
import { digestOf, isDigest, parseDigest } from "../digest.ts";
import { BodyReadError } from "../errors.ts";
import { parseManifest } from "../manifest.ts";
import { isRepositoryName, isTag } from "../names.ts";
import { layout } from "../storage/layout.ts";
import type { RegistryStorage } from "../storage/storage.ts";

/** What a pass knows so far. */
export interface PassProgress {
  /** Tags at the source. */
  tags: number;
  /** Tags not (yet) held here as the source has them. */
  tagsBehind: number;
  /** Declared sizes of the missing blobs of those tags, less what was stored since. */
  bytesBehind: number;
  /** Blob bytes stored by this pass. */
  bytesCopied: number;
}

/** The outcome of a pass: its final progress and what went wrong, one line each. */
export interface PassResult extends PassProgress {
  errors: string[];
  /**
   * Tags behind left for the next pass because the manifests read by this one reached
   * `maxPlannedBytes` (run the next pass at once).
   */
  deferred: number;
}

/** Options of {@link syncPass}. */
export interface PassOptions {
  /** Requests (tag checks, manifest reads, blob copies) in flight at once. */
  concurrency: number;
  signal: AbortSignal;
  /** Called whenever the progress changes. */
  onProgress?: (progress: PassProgress) => void;
  /** A listing or manifest request that takes longer fails (default 60 s). */
  requestTimeoutMs?: number;
  /** Manifest bytes held at most (default {@link MAX_PLANNED_BYTES}). */
  maxPlannedBytes?: number;
  /** A blob stream that delivers nothing for this long fails (default 60 s). */
  stallTimeoutMs?: number;
}

/** A manifest read from the source, with the manifests it references that are not here. */
interface ManifestNode {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  children: ManifestNode[];
  blobs: { digest: string; size: number }[];
}

interface Behind {
  repo: string;
  tag: string;
  /** The digest the source's HEAD named, if it named one. */
  remote?: string;
  tree?: ManifestNode;
}

/** Index nesting followed at most (an index of indexes of manifests). */
const MAX_DEPTH = 4;
/** Manifest bytes one pass holds in memory at most; further tags wait for the next pass. */
export const MAX_PLANNED_BYTES = 64 * 1024 * 1024;

/** A blob body longer than its descriptor says. */
class SourceLied extends Error {}

const EMPTY = new Uint8Array(0);

/** Thrown when the pass's manifest budget is spent. */
class BudgetSpent extends Error {}

/** Runs `fn` over `items` with at most `limit` running at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Replicates `client`'s registry into `storage` once; throws only when it cannot list it. */
export async function syncPass(
  client: RegistryClient,
  storage: RegistryStorage,
  options: PassOptions,
): Promise<PassResult> {
  const { signal, concurrency } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  const maxPlannedBytes = options.maxPlannedBytes ?? MAX_PLANNED_BYTES;
  const requestSignal = () => AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]);
  const progress: PassProgress = { tags: 0, tagsBehind: 0, bytesBehind: 0, bytesCopied: 0 };
  const errors: string[] = [];
  const report = () => options.onProgress?.({ ...progress });
  const fail = (what: string, err: unknown) => {
    if (signal.aborted) throw signal.reason;
    errors.push(`${what}: ${errorMessage(err)}`);
  };

  // 1. Every repository and tag of the source (a failure here fails the pass).
  const refs: { repo: string; tag: string }[] = [];
  const repos = await client.catalog(requestSignal());
  await forEachLimited(repos, concurrency, async (repo) => {
    if (!isRepositoryName(repo)) return fail(`Repository "${repo.slice(0, 200)}"`, "invalid name");
    try {
      for (const tag of await client.listTags(repo, requestSignal())) {
        if (isTag(tag)) refs.push({ repo, tag });
        else fail(`Tag "${repo}:${tag.slice(0, 200)}"`, "invalid tag");
      }
    } catch (err) {
      fail(`Tags of "${repo}"`, err);
    }
  });
  progress.tags = refs.length;

  // 2. The tags whose manifest is not here under that tag (by the source's HEAD digest).
  const behind: Behind[] = [];
  await forEachLimited(refs, concurrency, async ({ repo, tag }) => {
    try {
      const remote = await client.manifestDigest(repo, tag, requestSignal());
      const local = await storage.resolveTag(repo, tag);
      if (remote && isDigest(remote) && remote === local) return;
      behind.push({ repo, tag, remote: remote && isDigest(remote) ? remote : undefined });
    } catch (err) {
      fail(`Tag "${repo}:${tag}"`, err);
    }
  });
  progress.tagsBehind = behind.length;
  report();

  // 3. Their manifests, checked against their digests, and the blobs missing here.
  let plannedBytes = 0;
  const readTree = async (
    repo: string,
    reference: string,
    expected: string | undefined,
    depth: number,
  ): Promise<ManifestNode> => {
    if (plannedBytes >= maxPlannedBytes) throw new BudgetSpent();
    const m = await client.getManifest(repo, reference, requestSignal());
    plannedBytes += m.bytes.length;
    const algorithm = expected
      ? parseDigest(expected).algorithm
      : m.claimedDigest && isDigest(m.claimedDigest)
      ? parseDigest(m.claimedDigest).algorithm
      : "sha256";
    const digest = digestOf(m.bytes, algorithm);
    for (const claim of [expected, m.claimedDigest]) {
      if (claim !== undefined && claim !== digest) {
        throw new Error(
          `the source sent a manifest with digest "${digest}" for "${claim}" (refused)`,
        );
      }
    }
    const info = parseManifest(m.bytes, m.mediaType || undefined);
    const sizes = new Map(info.references.map((r) => [r.digest, r.size]));
    const children: ManifestNode[] = [];
    for (const child of info.manifests) {
      if (await storage.getManifest(repo, child)) continue;
      if (depth >= MAX_DEPTH) throw new Error(`indexes nest deeper than ${MAX_DEPTH} levels`);
      const node = await readTree(repo, child, child, depth + 1);
      children.push(node);
    }
    return {
      digest,
      mediaType: info.mediaType,
      bytes: m.bytes,
      children,
      blobs: info.blobs.map((d) => ({ digest: d, size: sizes.get(d) ?? 0 })),
    };
  };
  let deferred = 0;
  const missing = new Map<string, number>();
  const planned: (Behind & { tree: ManifestNode })[] = [];
  await forEachLimited(behind, concurrency, async (item) => {
    try {
      const tree = await readTree(item.repo, item.tag, item.remote, 0);
      if (!item.remote && tree.digest === await storage.resolveTag(item.repo, item.tag)) {
        progress.tagsBehind--;
        return;
      }
      const walk = async (node: ManifestNode) => {
        for (const b of node.blobs) {
          if (!missing.has(b.digest) && !(await storage.hasBlob(b.digest))) {
            missing.set(b.digest, b.size);
            progress.bytesBehind += b.size;
          }
        }
        for (const c of node.children) await walk(c);
      };
      await walk(tree);
      planned.push({ ...item, tree });
    } catch (err) {
      if (!(err instanceof BudgetSpent)) return fail(`Tag "${item.repo}:${item.tag}"`, err);
      if (planned.length > 0) {
        deferred++;
      } else {
        const tooMany = `its manifests hold more than ${maxPlannedBytes} bytes`;
        fail(`Tag "${item.repo}:${item.tag}"`, tooMany);
      }
    }
  });
  report();

  // 4. Copy: blobs (each once, even when several images share it), manifests, then the tag.
  const copies = new Map<string, Promise<void>>();
  const copyBlob = async (repo: string, digest: string, size: number) => {
    const stall = new AbortController();
    let timer = setTimeout(() => stall.abort(), stallTimeoutMs);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => stall.abort(new Error(`no data for ${stallTimeoutMs} ms`)),
        stallTimeoutMs,
      );
    };
    // Resume the upload an earlier copy left (a crash, a lost connection), else start one.
    const journal = layout.syncPartial(digest);
    const algorithm = parseDigest(digest).algorithm;
    const noted = new TextDecoder().decode(await storage.driver.readFile(journal) ?? EMPTY).trim();
    let offset = noted ? await storage.uploadSize(noted) : undefined;
    let id = offset !== undefined && offset <= size ? noted : "";
    const fresh = async () => {
      if (id) await storage.cancelUpload(id);
      id = await storage.startUpload(algorithm);
      offset = 0;
      await storage.driver.writeFile(journal, new TextEncoder().encode(id));
    };
    if (!id) await fresh();
    const start = offset ?? 0;
    // Kept for the next attempt unless the copy is done or its data cannot be right.
    let discard = false;
    try {
      const got = await client.getBlob(
        repo,
        digest,
        AbortSignal.any([signal, stall.signal]),
        start,
      );
      if (got.from !== start) await fresh();
      rearm();
      let left = size - (offset ?? 0);
      const watched = got.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            rearm();
            left -= chunk.length;
            // More than the manifest declares: stop before the excess is written.
            if (left < 0) throw new SourceLied(`the source sent more than ${size} bytes`);
            controller.enqueue(chunk);
          },
        }),
      );
      try {
        await storage.appendUpload(id, watched, offset);
      } catch (err) {
        // A body cut off keeps what arrived; a lie or a wrong offset starts over.
        discard = !(err instanceof BodyReadError) || err.cause instanceof SourceLied;
        throw err;
      }
      // commitUpload refuses a wrong digest or size (and removes the data): start over then.
      discard = true;
      await storage.commitUpload(id, { digest, size });
      progress.bytesCopied += size - start;
      progress.bytesBehind = Math.max(0, progress.bytesBehind - size);
      report();
    } finally {
      clearTimeout(timer);
      if (discard) {
        await storage.cancelUpload(id);
        await storage.driver.remove(journal);
      }
    }
  };
  const ensureBlob = async (repo: string, blob: { digest: string; size: number }) => {
    if (await storage.statRepoBlob(repo, blob.digest)) return;
    if (!(await storage.hasBlob(blob.digest))) {
      let copy = copies.get(blob.digest);
      if (!copy) {
        copy = copyBlob(repo, blob.digest, blob.size);
        copies.set(blob.digest, copy);
        copy.catch(() => copies.delete(blob.digest));
      }
      try {
        await copy;
      } catch (err) {
        throw new Error(`blob "${blob.digest}": ${errorMessage(err)}`);
      }
    }
    await storage.linkBlob(repo, blob.digest);
  };
  const store = async (repo: string, node: ManifestNode): Promise<void> => {
    for (const child of node.children) await store(repo, child);
    for (const blob of node.blobs) await ensureBlob(repo, blob);
    await storage.putManifest(repo, node.bytes, {
      reference: node.digest,
      contentType: node.mediaType,
    });
  };
  await forEachLimited(planned, concurrency, async ({ repo, tag, tree }) => {
    try {
      await store(repo, tree);
      await storage.tagManifest(repo, tag, tree.digest);
      progress.tagsBehind--;
      report();
    } catch (err) {
      fail(`Tag "${repo}:${tag}"`, err);
    }
  });
  // bytesBehind is an estimate for the tags still behind: none behind, none to copy (a blob
  // counted when its tag was planned may have been stored meanwhile by another tag's copy).
  if (progress.tagsBehind === 0) progress.bytesBehind = 0;
  return { ...progress, errors, deferred };
}

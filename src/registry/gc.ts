/**
 * `registry gc`: removes blobs that no manifest references, links to removed blobs, stale
 * uploads and temp files of tag writes interrupted by a crash. Safe while pushes are in flight: blobs younger than the grace period are kept (a
 * client pushes layers before the manifest naming them), and candidates are re-checked
 * against a second pass over the manifests just before removal.
 */
import { parseManifest } from "./manifest.ts";
import type { RegistryStorage } from "./storage/storage.ts";

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  /** Report only; change nothing. */
  dryRun: boolean;
  /** Keep unreferenced blobs younger than this. Default one hour. */
  graceMs?: number;
  /** Remove uploads untouched for this long. Default one day. */
  uploadMaxAgeMs?: number;
  /** The clock (tests). */
  now?: number;
  /**
   * Manifests counted as deleted (`<repository>@<digest>`): a dry run of `registry gc
   * --keep-bundles` reports the blobs their removal would free.
   */
  without?: ReadonlySet<string>;
}

/** What {@link collectGarbage} removed (or would remove). */
export interface GcReport {
  blobs: { digest: string; size: number }[];
  bytes: number;
  links: number;
  uploads: string[];
  /** Temp files of interrupted tag writes. */
  tempFiles: number;
  dryRun: boolean;
}

/**
 * Every blob digest referenced by a manifest in any repository (manifests included), leaving
 * out the manifests in `without` (`<repository>@<digest>`).
 */
async function referenced(
  storage: RegistryStorage,
  without: ReadonlySet<string>,
): Promise<Set<string>> {
  const marked = new Set<string>();
  for (const repo of await storage.listRepositories()) {
    for (const digest of await storage.listRevisions(repo)) {
      if (without.has(`${repo}@${digest}`)) continue;
      marked.add(digest);
      const m = await storage.getManifest(repo, digest);
      if (!m) continue;
      try {
        const info = parseManifest(m.bytes);
        for (const d of [...info.blobs, ...info.manifests]) marked.add(d);
      } catch {
        // An unparseable manifest references nothing we can name; verify reports it.
      }
    }
  }
  return marked;
}

/** Runs garbage collection on `storage`. */
export async function collectGarbage(
  storage: RegistryStorage,
  options: GcOptions,
): Promise<GcReport> {
  const now = options.now ?? Date.now();
  const grace = options.graceMs ?? 3_600_000;
  const uploadAge = options.uploadMaxAgeMs ?? 86_400_000;
  const report: GcReport = {
    blobs: [],
    bytes: 0,
    links: 0,
    uploads: [],
    tempFiles: 0,
    dryRun: options.dryRun,
  };
  const without = options.without ?? new Set();
  const first = await referenced(storage, without);
  const candidates: { digest: string; size: number }[] = [];
  for await (const blob of storage.listBlobs()) {
    if (!first.has(blob.digest) && now - blob.mtimeMs >= grace) {
      candidates.push({ digest: blob.digest, size: blob.size });
    }
  }
  const second = candidates.length ? await referenced(storage, without) : first;
  const removed = new Set<string>();
  for (const c of candidates) {
    if (second.has(c.digest)) continue;
    if (!options.dryRun) await storage.deleteBlob(c.digest);
    removed.add(c.digest);
    report.blobs.push(c);
    report.bytes += c.size;
  }
  for (const repo of await storage.listRepositories()) {
    report.tempFiles += await storage.removeStaleTagTemps(repo, now - uploadAge, options.dryRun);
    for (const digest of await storage.listBlobLinks(repo)) {
      const gone = removed.has(digest) || !(await storage.hasBlob(digest));
      if (!gone) continue;
      if (!options.dryRun) await storage.unlinkBlob(repo, digest);
      report.links++;
    }
  }
  for (const upload of await storage.listUploads()) {
    if (now - upload.mtimeMs < uploadAge) continue;
    if (!options.dryRun) await storage.cancelUpload(upload.id);
    report.uploads.push(upload.id);
  }
  return report;
}

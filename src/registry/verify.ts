/**
 * `registry verify`: re-hashes every blob, checks every manifest's references (present, and of
 * the size the manifest declares) and every tag, and reports damage. Leftovers of interrupted
 * writes (upload data, temp files) are not damage: they are invisible to clients, and
 * `registry gc` removes them.
 */
import { Hasher, parseDigest } from "./digest.ts";
import { parseManifest } from "./manifest.ts";
import type { RegistryStorage } from "./storage/storage.ts";

/** What {@link verifyStorage} found. */
export interface VerifyReport {
  blobs: number;
  bytes: number;
  repositories: number;
  manifests: number;
  tags: number;
  /** Uploads in progress or abandoned (not damage). */
  uploads: number;
  /** One line per problem; empty when the storage is sound. */
  problems: string[];
}

/** Checks everything in `storage`; `onBytes` is told the bytes hashed so far and the total. */
export async function verifyStorage(
  storage: RegistryStorage,
  onBytes: (done: number, total: number) => void = () => {},
): Promise<VerifyReport> {
  const report: VerifyReport = {
    blobs: 0,
    bytes: 0,
    repositories: 0,
    manifests: 0,
    tags: 0,
    uploads: (await storage.listUploads()).length,
    problems: [],
  };
  const problem = (line: string) => report.problems.push(line);
  const blobs = await Array.fromAsync(storage.listBlobs());
  const total = blobs.reduce((sum, b) => sum + b.size, 0);
  for (const blob of blobs) {
    report.blobs++;
    const opened = await storage.openBlob(blob.digest);
    if (!opened) {
      problem(`Blob "${blob.digest}" vanished while being verified`);
      continue;
    }
    const hasher = new Hasher(parseDigest(blob.digest).algorithm);
    for await (const chunk of opened.stream) {
      hasher.update(chunk);
      report.bytes += chunk.length;
      onBytes(report.bytes, total);
    }
    const actual = hasher.digest();
    if (actual !== blob.digest) {
      problem(`Blob "${blob.digest}" is damaged: its content hashes to "${actual}"`);
    }
  }
  for (const repo of await storage.listRepositories()) {
    report.repositories++;
    for (const digest of await storage.listRevisions(repo)) {
      report.manifests++;
      const m = await storage.getManifest(repo, digest);
      if (!m) {
        problem(`Manifest "${repo}@${digest}" is linked but its content is missing`);
        continue;
      }
      let info;
      try {
        info = parseManifest(m.bytes);
      } catch (err) {
        problem(`Manifest "${repo}@${digest}" is invalid: ${(err as Error).message}`);
        continue;
      }
      for (const blob of info.blobs) {
        if (!(await storage.statRepoBlob(repo, blob))) {
          problem(`Manifest "${repo}@${digest}" references missing blob "${blob}"`);
        }
      }
      for (const child of info.manifests) {
        if (!(await storage.getManifest(repo, child))) {
          problem(`Index "${repo}@${digest}" references missing manifest "${child}"`);
        }
      }
      for (const wrong of await storage.wrongSizes(info.references)) {
        problem(
          `Manifest "${repo}@${digest}" declares ${wrong.size} bytes for "${wrong.digest}", ` +
            `which has ${wrong.stored} (pulls fail with a size mismatch)`,
        );
      }
    }
    for (const tag of (await storage.listTags(repo)) ?? []) {
      report.tags++;
      const digest = await storage.resolveTag(repo, tag);
      if (!digest) {
        problem(`Tag "${repo}:${tag}" is unreadable`);
      } else if (!(await storage.getManifest(repo, digest))) {
        problem(`Tag "${repo}:${tag}" points at missing manifest "${digest}"`);
      }
    }
  }
  return report;
}

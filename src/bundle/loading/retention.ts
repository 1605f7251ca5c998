/**
 * `registry gc --keep-bundles N`: keeps the bundles of the N newest k0rdent versions (SemVer) and
 * the version marked in use (`in_use.ts`), and collects the older ones: the tags only they
 * recorded (a tag moved since, or also recorded by a kept bundle, stays; a tag no journal
 * recorded was pushed by a user and is never looked at), the manifests of those tags no other
 * tag reaches, the k0s binaries only they brought, then, through the registry's
 * `collectGarbage` and its grace period, the blobs nothing references any more. A dry run
 * computes the same and changes nothing. The journals of collected bundles go last, so a run
 * interrupted at any point is finished by the next one, and a complete run leaves nothing for
 * the next to do. While a bundle load runs (its status names a live process) no bundle is
 * collected: its tags are not in a journal yet.
 */
import { collectGarbage, type GcOptions, type GcReport } from "../../registry/gc.ts";
import { parseManifest } from "../../registry/manifest.ts";
import { openK0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import { openDiskStorage, type RegistryStorage } from "../../registry/storage/storage.ts";
import { processAlive } from "../../fsx/pid_lock.ts";
import { readInUse } from "./in_use.ts";
import { type LoadedRef, readLoadStatus } from "./load_state.ts";
import {
  type BundleVersionRecord,
  readBundleRecords,
  tagKey,
  versionKey,
  versionsByTag,
} from "./records.ts";

/** Options of {@link collectOldBundles}. */
export interface RetentionOptions extends Pick<GcOptions, "dryRun" | "graceMs" | "now"> {
  /** Versions to keep besides the one in use (>= 1). */
  keep: number;
}

/** A tag of a collected bundle. */
export interface CollectedTag extends LoadedRef {
  /** The versions whose bundles recorded it. */
  versions: string[];
}

/** What happened to the bundles (the `bundles` part of the gc report). */
export interface BundleRetention {
  keep: number;
  /** The version marked in use, as marked. */
  inUse?: string;
  /** Versions kept (newest first), the in-use one included. */
  kept: string[];
  /** Versions collected (newest first). */
  collected: string[];
  /** Journals whose k0rdent version is unknown: kept, never counted. */
  unversionedJournals: number;
  /** Tags removed (or that a dry run would remove). */
  tags: CollectedTag[];
  /** Tags of collected bundles that now point at another manifest: kept. */
  movedTags: LoadedRef[];
  /** Manifests removed with those tags (counting index children). */
  manifests: number;
  /** k0s binaries removed. */
  k0sBinaries: { name: string; size: number }[];
  k0sBytes: number;
  /** Journals of collected bundles removed. */
  journals: number;
  /** Why no bundle was collected this time (a load in progress), when so. */
  skipped?: string;
}

/** The gc report with what happened to the bundles. */
export interface RetentionReport extends GcReport {
  bundles: BundleRetention;
}

/** Every manifest reachable from `digests` in `repo` (indexes to their children). */
async function reach(
  storage: RegistryStorage,
  repo: string,
  digests: Iterable<string>,
  into = new Set<string>(),
): Promise<Set<string>> {
  const todo = [...digests];
  while (todo.length) {
    const digest = todo.pop()!;
    if (into.has(digest)) continue;
    const m = await storage.getManifest(repo, digest);
    if (!m) continue;
    into.add(digest);
    try {
      todo.push(...parseManifest(m.bytes).manifests);
    } catch {
      // A manifest that does not parse names no children.
    }
  }
  return into;
}

/** Splits the records into kept and collected; see the module comment. */
function choose(records: BundleVersionRecord[], keep: number, inUse: string | undefined) {
  const versioned = records.filter((r) => r.version !== undefined);
  const kept = versioned.slice(0, keep);
  const old: BundleVersionRecord[] = [];
  for (const r of versioned.slice(keep)) (r.version === inUse ? kept : old).push(r);
  return { kept, old, unversioned: records.filter((r) => r.version === undefined) };
}

/** Runs `registry gc --keep-bundles` on the storage directory `dir`; see the module comment. */
export async function collectOldBundles(
  dir: string,
  options: RetentionOptions,
): Promise<RetentionReport> {
  if (!Number.isInteger(options.keep) || options.keep < 1) {
    throw new RangeError(`keep must be an integer >= 1, not ${options.keep}`);
  }
  const storage = openDiskStorage(dir);
  const mark = await readInUse(dir);
  const busy = await loadInProgress(storage);
  // A load not yet complete has no journal naming its tags: collect nothing while it runs.
  const records = busy ? [] : await readBundleRecords(storage.driver);
  const { kept, old, unversioned } = choose(
    records,
    options.keep,
    versionKey(mark?.k0rdentVersion),
  );
  const keptRecords = [...kept, ...unversioned];
  const keptTags = new Set(keptRecords.flatMap((r) => r.refs.map(tagKey)));
  const recordedBy = versionsByTag(old);

  // Tags only old bundles recorded, still pointing where one of them put it (or gone).
  const tags: CollectedTag[] = [];
  const movedTags: LoadedRef[] = [];
  const candidates = new Map<string, Set<string>>(); // repository -> manifest digests
  const oldRefs = old.flatMap((r) => r.refs).filter((r) => !keptTags.has(tagKey(r)));
  const byTag = Map.groupBy(oldRefs, tagKey);
  for (const refs of byTag.values()) {
    const { repository, tag } = refs[0];
    const current = await storage.resolveTag(repository, tag);
    if (current !== undefined && !refs.some((r) => r.digest === current)) {
      movedTags.push({ repository, tag, digest: current });
      continue;
    }
    const digests = candidates.get(repository) ?? new Set();
    refs.forEach((r) => digests.add(r.digest));
    candidates.set(repository, digests);
    if (current !== undefined) {
      tags.push({ repository, tag, digest: current, versions: recordedBy.get(tagKey(refs[0]))! });
    }
  }

  // Their manifests (and index children) that no remaining tag reaches.
  const removedTags = new Set(tags.map(tagKey));
  const manifests: { repository: string; digest: string }[] = [];
  for (const [repository, digests] of candidates) {
    const remaining: string[] = [];
    for (const tag of (await storage.listTags(repository)) ?? []) {
      if (removedTags.has(tagKey({ repository, tag }))) continue;
      const digest = await storage.resolveTag(repository, tag);
      if (digest) remaining.push(digest);
    }
    const reachable = await reach(storage, repository, remaining);
    for (const digest of await reach(storage, repository, digests)) {
      if (!reachable.has(digest)) manifests.push({ repository, digest });
    }
  }

  // k0s binaries only old bundles brought, still the size they had.
  const keptBinaries = new Set(keptRecords.flatMap((r) => r.k0sBinaries.map((b) => b.name)));
  const k0s = openK0sBinaryStore(dir);
  const k0sBinaries: { name: string; size: number }[] = [];
  for (const b of old.flatMap((r) => r.k0sBinaries)) {
    if (keptBinaries.has(b.name) || k0sBinaries.some((k) => k.name === b.name)) continue;
    if ((await k0s.stat(b.name))?.size === b.size) k0sBinaries.push({ name: b.name, size: b.size });
  }

  if (!options.dryRun) {
    for (const t of tags) await storage.deleteTag(t.repository, t.tag);
    for (const m of manifests) await storage.deleteManifest(m.repository, m.digest);
    for (const b of k0sBinaries) await k0s.remove(b.name);
  }
  const gc = await collectGarbage(storage, {
    dryRun: options.dryRun,
    graceMs: options.graceMs,
    now: options.now,
    without: options.dryRun
      ? new Set(manifests.map((m) => `${m.repository}@${m.digest}`))
      : undefined,
  });
  const journals = old.flatMap((r) => r.journals);
  if (!options.dryRun) {
    for (const path of journals) await storage.driver.remove(path);
  }
  return {
    ...gc,
    bundles: {
      keep: options.keep,
      inUse: mark?.k0rdentVersion,
      kept: kept.map((r) => r.k0rdentVersion ?? r.version!),
      collected: old.map((r) => r.k0rdentVersion ?? r.version!),
      unversionedJournals: unversioned.reduce((n, r) => n + r.journals.length, 0),
      tags,
      movedTags,
      manifests: manifests.length,
      k0sBinaries,
      k0sBytes: k0sBinaries.reduce((n, b) => n + b.size, 0),
      journals: journals.length,
      ...(busy ? { skipped: busy } : {}),
    },
  };
}

/** What a bundle load running on `storage` right now is, or undefined when none runs. */
async function loadInProgress(storage: RegistryStorage): Promise<string | undefined> {
  const status = await readLoadStatus(storage.driver);
  if (!status || status.state === "complete" || status.state === "failed") return undefined;
  if (status.pid === Deno.pid || !processAlive(status.pid)) return undefined;
  return `a load of "${status.bundle}" is in progress (pid ${status.pid})`;
}

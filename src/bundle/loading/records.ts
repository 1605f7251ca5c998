/**
 * Which bundle versions referenced which tags: the complete load journals of a storage
 * (`load_state.ts`) grouped by k0rdent version, newest first. Several journals of one version
 * (the same bundle loaded from two paths, a rebuild with other build metadata) are one version.
 * Read by `registry gc --keep-bundles` (`retention.ts`) and `registry status`.
 */
import semver from "semver";
import type { StorageDriver } from "../../registry/storage/driver.ts";
import { layout } from "../../registry/storage/layout.ts";
import type { StoredK0sBinary } from "./k0s_binaries.ts";
import { type LoadedRef, readJournal } from "./load_state.ts";

/** The bundles of one k0rdent version that the storage holds. */
export interface BundleVersionRecord {
  /**
   * The version key: SemVer without build metadata (`1.2.0`), or undefined for bundles whose
   * k0rdent version is unknown or not SemVer (never ordered, never collected).
   */
  version?: string;
  /** The version as the newest journal recorded it (the chart tag: `+` written as `_`). */
  k0rdentVersion?: string;
  /** The complete journal files of this version (paths in the storage). */
  journals: string[];
  /** Every reference those journals tagged (one entry per repository, tag and digest). */
  refs: LoadedRef[];
  /** The k0s binaries those journals stored, in and beside the bundles (one per name and size). */
  k0sBinaries: StoredK0sBinary[];
  /** When the last of them finished loading. */
  loadedAt?: string;
}

/**
 * The SemVer of a k0rdent version as a journal or `markInUse` holds it (`1.2.0`, `v1.2.0`, the
 * chart tag `1.2.0_build.1`), without build metadata; undefined when it is not SemVer.
 */
export function versionKey(k0rdentVersion: string | undefined): string | undefined {
  if (!k0rdentVersion) return undefined;
  // A tag cannot hold "+": the load writes SemVer build metadata with "_".
  return semver.valid(k0rdentVersion.replace("_", "+")) ?? undefined;
}

/** `<repository>:<tag>`, the key of a tag across records. */
export function tagKey(ref: { repository: string; tag: string }): string {
  return `${ref.repository}:${ref.tag}`;
}

/**
 * The bundle records of the storage on `driver`: versions newest first (SemVer), then unknown
 * versions.
 */
export async function readBundleRecords(driver: StorageDriver): Promise<BundleVersionRecord[]> {
  const names = (await driver.list(layout.bundleJournals()))
    .filter((e) => !e.isDirectory && !e.name.startsWith(".") && e.name.endsWith(".json"))
    .map((e) => e.name);
  const byVersion = new Map<string | undefined, BundleVersionRecord>();
  for (const name of names.sort()) {
    const path = layout.bundleJournal(name.slice(0, -".json".length));
    const journal = await readJournal(driver, path);
    if (journal?.state !== "complete" || !Array.isArray(journal.refs)) continue;
    const key = versionKey(journal.k0rdentVersion);
    let record = byVersion.get(key);
    if (!record) {
      record = { version: key, journals: [], refs: [], k0sBinaries: [] };
      byVersion.set(key, record);
    }
    record.journals.push(path);
    if ((journal.finishedAt ?? "") >= (record.loadedAt ?? "")) {
      record.loadedAt = journal.finishedAt;
      record.k0rdentVersion = journal.k0rdentVersion;
    }
    const refs = new Set(record.refs.map((r) => `${tagKey(r)}@${r.digest}`));
    for (const r of journal.refs) {
      if (!refs.has(`${tagKey(r)}@${r.digest}`)) record.refs.push(r);
    }
    const bins = new Set(record.k0sBinaries.map((b) => `${b.name}/${b.size}`));
    for (const b of [...journal.k0sBinaries ?? [], ...journal.k0sBinariesBeside ?? []]) {
      if (!bins.has(`${b.name}/${b.size}`)) record.k0sBinaries.push(b);
    }
  }
  return [...byVersion.values()].sort((a, b) => {
    if (a.version === undefined || b.version === undefined) {
      return a.version === b.version ? 0 : a.version === undefined ? 1 : -1;
    }
    return semver.rcompare(a.version, b.version);
  });
}

/** Which versions recorded each tag: `<repository>:<tag>` -> version keys ("unknown" for none). */
export function versionsByTag(records: readonly BundleVersionRecord[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const record of records) {
    const version = record.version ?? "unknown";
    for (const ref of record.refs) {
      const list = out.get(tagKey(ref)) ?? [];
      if (!list.includes(version)) list.push(version);
      out.set(tagKey(ref), list);
    }
  }
  return out;
}

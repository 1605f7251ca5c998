/** Replication state per `--sync-from` source, kept in `sync/status.json` for `registry status`. */
import { formatBytes } from "../../log/progress.ts";
import type { RegistryStorage } from "../storage/storage.ts";
import { layout } from "../storage/layout.ts";

/** How far this registry is behind one source. */
export interface SourceStatus {
  /** The source URL as given to `--sync-from`. */
  source: string;
  /**
   * `starting` (no pass yet), `syncing` (a pass is running), `in sync` (the last pass left
   * nothing behind), `behind` (it left tags behind: see `lastError`), `unreachable` (the source
   * could not be listed).
   */
  state: "starting" | "syncing" | "in sync" | "behind" | "unreachable";
  /** When the last pass started. */
  lastAttemptAt?: string;
  /** When a pass last finished with every tag of the source copied. */
  lastSyncAt?: string;
  /** Tags at the source when it was last listed. */
  tags?: number;
  /** Tags of the source whose manifest this registry does not hold under that tag. */
  tagsBehind?: number;
  /**
   * Bytes still to copy for those tags: the sizes their manifests declare for the blobs this
   * registry does not store yet, each blob counted once (tags whose manifests could not be read
   * count nothing), less what the running pass stored so far.
   */
  bytesBehind?: number;
  /** k0s binaries the source's files listener lists (absent: not read yet, or no listener). */
  k0sFiles?: number;
  /** Blob bytes copied from this source since the daemon started. */
  bytesCopied: number;
  /** Why the last pass failed or left tags behind (cleared by a complete pass). */
  lastError?: string;
  lastErrorAt?: string;
}

/** The whole file. */
export interface SyncStatus {
  /** When the daemon last wrote it. */
  updatedAt: string;
  pid: number;
  sources: SourceStatus[];
}

/** Reads the replication status of `storage`, or undefined when nothing replicates into it. */
export async function readSyncStatus(storage: RegistryStorage): Promise<SyncStatus | undefined> {
  const bytes = await storage.driver.readFile(layout.syncStatus());
  if (!bytes) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as SyncStatus;
  } catch {
    return undefined;
  }
}

/** Writes the replication status atomically. */
export async function writeSyncStatus(storage: RegistryStorage, status: SyncStatus): Promise<void> {
  await storage.driver.writeFile(
    layout.syncStatus(),
    new TextEncoder().encode(JSON.stringify(status, null, 2) + "\n"),
  );
}

function ago(iso: string | undefined, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return `${iso} (${s < 120 ? `${s}s` : `${Math.round(s / 60)}m`} ago)`;
}

/** The lines `registry status` prints for replication. */
export function syncStatusLines(status: SyncStatus, now = Date.now()): string[] {
  return [
    `Replication (updated ${ago(status.updatedAt, now)} by pid ${status.pid}):`,
    ...status.sources.flatMap((s) => [
      `  ${s.source}: ${s.state}` +
      (s.tagsBehind !== undefined
        ? `, ${s.tagsBehind} of ${s.tags ?? "?"} tags behind (${
          formatBytes(s.bytesBehind ?? 0)
        } to copy)`
        : ""),
      `    last sync: ${ago(s.lastSyncAt, now)}; copied ${formatBytes(s.bytesCopied)}` +
      (s.k0sFiles !== undefined ? `; k0s binaries at the source: ${s.k0sFiles}` : ""),
      ...(s.lastError ? [`    last error: ${s.lastError} (${s.lastErrorAt ?? "?"})`] : []),
    ]),
  ];
}

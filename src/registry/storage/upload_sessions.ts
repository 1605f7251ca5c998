/**
 * HTTP upload sessions on top of the storage's uploads: each is bound to the repository that
 * started it (another repository's URL cannot append to, finish or cancel it), the sessions
 * open at once are capped in total and per client, and sessions untouched for `expiryMs` are
 * removed by {@link UploadSessions.expire} (the daemon runs it on a timer; `registry gc` is not
 * needed). The binding is a small record beside the data (`uploads/<id>.session`, see
 * `layout.ts`), so a session survives a restart still bound; the counts are kept in memory and
 * rebuilt from the records by {@link UploadSessions.load}.
 */
import { formatDuration } from "../../config/duration.ts";
import { RegistryError } from "../errors.ts";
import { isUploadId, layout, UPLOADS_DIR } from "./layout.ts";
import type { RegistryStorage } from "./storage.ts";

/** Limits of {@link UploadSessions}. */
export interface UploadSessionLimits {
  /** Sessions open at once, all clients together. */
  maxSessions: number;
  /** Sessions open at once from one client address. */
  maxPerClient: number;
  /** A session whose data has not changed for this long is removed. */
  expiryMs: number;
}

interface SessionRecord {
  repository: string;
  client: string;
  /** When it started (ms since the epoch). */
  started: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function parseRecord(bytes: Uint8Array): SessionRecord | undefined {
  try {
    const r = JSON.parse(dec.decode(bytes));
    if (typeof r?.repository === "string" && typeof r.client === "string") {
      return { repository: r.repository, client: r.client, started: Number(r.started) || 0 };
    }
  } catch {
    // A torn or foreign record binds nothing.
  }
  return undefined;
}

/** The registry's upload sessions; see the module comment. */
export class UploadSessions {
  readonly #open = new Map<string, SessionRecord>();
  readonly #perClient = new Map<string, number>();

  constructor(
    readonly storage: RegistryStorage,
    readonly limits: UploadSessionLimits,
    readonly now: () => number = Date.now,
  ) {}

  /** Sessions open now. */
  get size(): number {
    return this.#open.size;
  }

  /** Reads the records left by an earlier run (call once at start-up). */
  async load(): Promise<void> {
    for (const e of await this.storage.driver.list(UPLOADS_DIR)) {
      const id = layout.sessionId(e.name);
      if (!id || this.#open.has(id)) continue;
      const bytes = await this.storage.driver.readFile(layout.uploadSession(id));
      const record = bytes && parseRecord(bytes);
      this.#remember(id, record ?? { repository: "", client: "", started: 0 });
    }
  }

  /**
   * Starts a session for `repository` from `client`; `TOO_MANY_REQUESTS` (429) when the client
   * or everyone together already has the most allowed (after expiring the stale ones).
   */
  async start(repository: string, client: string): Promise<string> {
    if (this.#full(client)) await this.expire();
    const { maxSessions, maxPerClient, expiryMs } = this.limits;
    const wait = `finish or cancel some, or wait for abandoned ones to expire after ${
      formatDuration(expiryMs)
    }`;
    if (this.#open.size >= maxSessions) {
      throw new RegistryError(
        "TOO_MANY_REQUESTS",
        `Too many upload sessions are open (${maxSessions}): ${wait}`,
      );
    }
    if ((this.#perClient.get(client) ?? 0) >= maxPerClient) {
      throw new RegistryError(
        "TOO_MANY_REQUESTS",
        `Too many upload sessions are open from ${client} (${maxPerClient}): ${wait}`,
      );
    }
    const id = await this.storage.startUpload();
    const record = { repository, client, started: this.now() };
    try {
      await this.storage.driver.writeFile(
        layout.uploadSession(id),
        enc.encode(JSON.stringify(record)),
      );
    } catch (err) {
      await this.storage.cancelUpload(id);
      throw err;
    }
    this.#remember(id, record);
    return id;
  }

  /** Throws `BLOB_UPLOAD_UNKNOWN` unless `id` is a session of `repository`. */
  async check(repository: string, id: string): Promise<void> {
    let record = isUploadId(id) ? this.#open.get(id) : undefined;
    if (!record && isUploadId(id)) {
      // Started by an earlier run and not loaded (or loaded by another process): read it.
      const bytes = await this.storage.driver.readFile(layout.uploadSession(id));
      record = bytes && parseRecord(bytes);
      if (record) this.#remember(id, record);
    }
    if (!record || record.repository !== repository) {
      throw new RegistryError(
        "BLOB_UPLOAD_UNKNOWN",
        `Upload "${id.slice(0, 64)}" is not known in "${repository}"`,
      );
    }
  }

  /** Forgets session `id` once its data is gone (committed, failed or cancelled). */
  async settle(id: string): Promise<void> {
    if ((await this.storage.uploadSize(id)) !== undefined) return;
    await this.storage.driver.remove(layout.uploadSession(id));
    this.#forget(id);
  }

  /** Cancels session `id`: its data and record go; false when it had no data. */
  async cancel(id: string): Promise<boolean> {
    const had = await this.storage.cancelUpload(id);
    this.#forget(id);
    return had;
  }

  /** Removes sessions whose data has not changed for `expiryMs`; returns how many. */
  async expire(): Promise<number> {
    const cutoff = this.now() - this.limits.expiryMs;
    let removed = 0;
    for (const [id, record] of [...this.#open]) {
      const info = await this.storage.driver.stat(layout.upload(id));
      const touched = Math.max(info?.mtimeMs ?? 0, record.started);
      if (touched > cutoff) continue;
      await this.cancel(id);
      removed++;
    }
    return removed;
  }

  #full(client: string): boolean {
    return this.#open.size >= this.limits.maxSessions ||
      (this.#perClient.get(client) ?? 0) >= this.limits.maxPerClient;
  }

  #remember(id: string, record: SessionRecord): void {
    this.#open.set(id, record);
    this.#perClient.set(record.client, (this.#perClient.get(record.client) ?? 0) + 1);
  }

  #forget(id: string): void {
    const record = this.#open.get(id);
    if (!record) return;
    this.#open.delete(id);
    const left = (this.#perClient.get(record.client) ?? 1) - 1;
    if (left > 0) this.#perClient.set(record.client, left);
    else this.#perClient.delete(record.client);
  }
}

/**
 * The one recorder of a bundle load: it keeps the bundle's journal (`bundle/loads/<id>.json`)
 * and the latest load's status (`bundle/status.json`, when asked to) in step with the load's
 * steps, so `load.ts` says what happened and this file says what is written, and when.
 */
import type { StorageDriver } from "../../registry/storage/driver.ts";
import type { BundleInfo } from "../reading/source.ts";
import type { StoredK0sBinary } from "./k0s_binaries.ts";
import {
  journalFile,
  type LoadedRef,
  type LoadJournal,
  type LoadStatus,
  readJournal,
  writeJournal,
  writeLoadStatus,
} from "./load_state.ts";
import type { SinkStats } from "./sinks.ts";

/** Status writes during the pass are at least this far apart (ms). */
const STATUS_EVERY = 1000;
/** Journal writes during the pass (the stored bytes a resume's preflight counts) (ms). */
const JOURNAL_EVERY = 2000;

/** What a complete load records. */
export interface LoadOutcome {
  verified: NonNullable<LoadJournal["verified"]>;
  k0rdentVersion?: string;
  archives: number;
  refs: LoadedRef[];
  k0sBinaries: StoredK0sBinary[];
}

/** Journal and status of one load of one bundle into one storage; see the module comment. */
export class LoadRecorder {
  readonly #startedAt = new Date().toISOString();
  readonly #status: LoadStatus;
  #journal?: LoadJournal;
  #stats?: SinkStats;
  #lastStatus = 0;
  #lastJournal = 0;

  private constructor(
    readonly driver: StorageDriver,
    readonly info: BundleInfo,
    readonly prefix: string,
    /** The journal's path in the storage. */
    readonly journalFile: string,
    /** The journal an earlier load of this bundle left, if any. */
    readonly previous: LoadJournal | undefined,
    readonly writeStatus: boolean,
  ) {
    this.#status = {
      bundle: info.path,
      state: "verifying",
      bytesRead: 0,
      bytesTotal: info.size,
      imagesDone: 0,
      imagesTotal: previous?.archives,
      startedAt: this.#startedAt,
      updatedAt: this.#startedAt,
      pid: Deno.pid,
    };
  }

  /**
   * The recorder of `info` loaded with `prefix` into the storage on `driver`, with the earlier
   * journal read.
   */
  static async open(
    driver: StorageDriver,
    options: { prefix: string; writeStatus?: boolean },
    info: BundleInfo,
  ): Promise<LoadRecorder> {
    const file = journalFile(info, options.prefix);
    return new LoadRecorder(
      driver,
      info,
      options.prefix,
      file,
      await readJournal(driver, file),
      options.writeStatus ?? false,
    );
  }

  /** Bytes of blobs an interrupted earlier load already stored (a resume adds less). */
  get resumedBytes(): number {
    return this.previous?.state === "loading" ? this.previous.storedBytes ?? 0 : 0;
  }

  /** Bytes of the bundle read so far. */
  get bytesRead(): number {
    return this.#status.bytesRead;
  }

  /** A rerun found the bundle loaded: the status says so (nothing else is written). */
  async alreadyLoaded(journal: LoadJournal): Promise<void> {
    if (!this.writeStatus) return;
    const now = new Date().toISOString();
    await writeLoadStatus(this.driver, {
      bundle: this.info.path,
      state: "complete",
      bytesRead: 0,
      bytesTotal: this.info.size,
      imagesDone: journal.refs!.length,
      imagesTotal: journal.refs!.length,
      startedAt: now,
      updatedAt: now,
      k0rdentVersion: journal.k0rdentVersion,
      pid: Deno.pid,
    });
  }

  /** The load starts with the signature check. */
  async verifying(): Promise<void> {
    await this.#saveStatus(true);
  }

  /** The pass starts: the journal says "loading"; `stats` counts what the pass stores. */
  async loading(stats: SinkStats): Promise<void> {
    this.#journal = {
      bundle: this.info.path,
      size: this.info.size,
      mtimeMs: this.info.mtimeMs,
      prefix: this.prefix,
      state: "loading",
      startedAt: this.#startedAt,
      archives: this.previous?.archives,
      storedBytes: this.resumedBytes,
    };
    await writeJournal(this.driver, this.journalFile, this.#journal);
    this.#lastJournal = Date.now();
    this.#status.state = "loading";
    this.#stats = stats;
  }

  /** `n` more bytes of the bundle were read. */
  read(n: number): void {
    this.#status.bytesRead += n;
  }

  /** `archives` archives are stored so far (journal and status follow, throttled). */
  async archiveStored(archives: number): Promise<void> {
    if (Date.now() - this.#lastJournal > JOURNAL_EVERY) {
      this.#lastJournal = Date.now();
      await this.#writeStoredBytes();
    }
    this.#status.imagesDone = archives;
    await this.#saveStatus();
  }

  /**
   * The pass stopped early: the journal keeps what is stored for a rerun's preflight (best
   * effort: a full disk may refuse even this, and the reason the pass stopped matters more).
   */
  async passStopped(): Promise<void> {
    await this.#writeStoredBytes().catch(() => {});
  }

  /** Every blob is stored and checked: `images` images are tagged next. */
  async tagging(images: number, k0rdentVersion: string | undefined): Promise<void> {
    this.#status.state = "tagging";
    this.#status.imagesTotal = images;
    this.#status.k0rdentVersion = k0rdentVersion;
    await this.#saveStatus(true);
  }

  /** The load is complete: the journal lists what it tagged and stored. */
  async complete(outcome: LoadOutcome): Promise<void> {
    await writeJournal(this.driver, this.journalFile, {
      ...this.#journal!,
      state: "complete",
      finishedAt: new Date().toISOString(),
      ...outcome,
    });
    this.#status.state = "complete";
    await this.#saveStatus(true);
  }

  /** The load failed with `err` (the status says why; never throws). */
  async failed(err: unknown): Promise<void> {
    this.#status.state = "failed";
    this.#status.error = (err as Error).message;
    await this.#saveStatus(true).catch(() => {});
  }

  async #writeStoredBytes(): Promise<void> {
    if (!this.#journal) return;
    this.#journal.storedBytes = this.resumedBytes + (this.#stats?.storedBytes ?? 0);
    await writeJournal(this.driver, this.journalFile, this.#journal);
  }

  async #saveStatus(force = false): Promise<void> {
    if (!this.writeStatus) return;
    const now = Date.now();
    if (!force && now - this.#lastStatus < STATUS_EVERY) return;
    this.#lastStatus = now;
    if (this.#stats) {
      this.#status.bytesStored = this.#stats.storedBytes;
      this.#status.bytesPresent = this.#stats.presentBytes;
    }
    this.#status.updatedAt = new Date(now).toISOString();
    await writeLoadStatus(this.driver, this.#status);
  }
}

/**
 * The in-memory index of repository metadata (tags, manifest revisions, blob links), so that
 * manifest and blob HEAD reads neither stat nor read files, kept coherent with writes by other
 * processes on the same storage (`k0rdentd bundle load`, `upgrade`, `registry gc`).
 *
 * Coherence: every change to a tag, revision or blob link, by any process, goes
 * through the repository store, which bumps the storage's generation file
 * (`layout.generation()`: one `O_APPEND` byte) once the change is on disk (after the rename or
 * remove). The index holds the file open and, before each lookup, reads its size with one
 * `lseek` on that descriptor (no path lookup; 1.7 us against 4.4 us for a `stat` of a tag path
 * in `bench/generation_check.ts`). A size it has not seen drops every entry; the next lookups
 * fill them again from disk. A writer's change thus reaches the next read that starts after
 * the writer's call returned. Entries are filled lazily: a restart costs nothing up front, and
 * the index holds what clients asked for, at most {@link MAX_ENTRIES} entries of each kind.
 *
 * Races: an entry is stored only when no bump or local write happened since its lookup
 * started (the epoch check), so a read that met the old file while a write ran cannot keep
 * it. A writer killed between its rename and its bump (a window of microseconds) leaves this
 * one change unseen until the next bump by anyone or a restart. The file only grows (by one
 * byte a change: a 22 GB bundle's load adds a few kilobytes); shrinking it could bring back a
 * size already seen, so nothing truncates it. When it cannot be opened (a read-only storage),
 * nothing is cached.
 */
import type { ChangeCounter, StorageDriver } from "./driver.ts";
import { layout } from "./layout.ts";

/** Entries kept of each kind (tags, revisions, links) before the oldest go. */
export const MAX_ENTRIES = 50_000;

/** A tag's digest, or null for a tag known to be absent. */
type TagEntry = string | null;

/** Keeps at most {@link MAX_ENTRIES} entries, dropping the oldest. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_ENTRIES) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

/** Tags, revisions and links of a storage, in memory; see the module comment. */
export class MetadataIndex {
  readonly #tags = new Map<string, TagEntry>();
  readonly #revisions = new Map<string, boolean>();
  readonly #links = new Map<string, boolean>();
  /** The generation file; null until first used, undefined when it cannot be opened. */
  #counter: ChangeCounter | undefined | null = null;
  /** The generation the entries hold for. */
  #seen = -1;
  /** Counts drops and local writes: a fill started before one must not be stored. */
  #epoch = 0;

  constructor(readonly driver: StorageDriver) {}

  #open(): ChangeCounter | undefined {
    if (this.#counter === null) this.#counter = this.driver.openCounter(layout.generation());
    return this.#counter;
  }

  /** The current epoch when entries may be used (dropping them after another writer's bump). */
  #check(): number | undefined {
    const counter = this.#open();
    if (!counter) return undefined;
    const now = counter.value();
    if (now !== this.#seen) this.#drop(now);
    return this.#epoch;
  }

  #drop(generation: number): void {
    this.#tags.clear();
    this.#revisions.clear();
    this.#links.clear();
    this.#seen = generation;
    this.#epoch++;
  }

  /** The entry under `key`, else what `load` finds on disk (stored when still current). */
  async #lookup<V>(
    map: Map<string, V>,
    key: string,
    load: () => Promise<V>,
  ): Promise<V> {
    const epoch = this.#check();
    if (epoch !== undefined) {
      const hit = map.get(key);
      if (hit !== undefined) return hit;
    }
    const value = await load();
    if (epoch !== undefined && epoch === this.#epoch) remember(map, key, value);
    return value;
  }

  /**
   * What the index holds under `key` now, without touching the disk beyond the generation
   * check: undefined when it holds nothing (or cannot be used).
   */
  #peek<V>(map: Map<string, V>, key: string): V | undefined {
    return this.#check() === undefined ? undefined : map.get(key);
  }

  /** The digest tag `tag` of `repo` points at when the index knows it (no load), else undefined. */
  peekTag(repo: string, tag: string): string | undefined {
    return this.#peek(this.#tags, `${repo}:${tag}`) ?? undefined;
  }

  /** True when the index knows manifest `digest` is in `repo` (no load). */
  peekRevision(repo: string, digest: string): boolean {
    return this.#peek(this.#revisions, `${repo}@${digest}`) === true;
  }

  /** True when the index knows blob `digest` is linked into `repo` (no load). */
  peekLink(repo: string, digest: string): boolean {
    return this.#peek(this.#links, `${repo}@${digest}`) === true;
  }

  /** The digest tag `tag` of `repo` points at (or null), through `load` on a miss. */
  tag(repo: string, tag: string, load: () => Promise<TagEntry>): Promise<TagEntry> {
    return this.#lookup(this.#tags, `${repo}:${tag}`, load);
  }

  /** True when manifest `digest` is in `repo`, through `load` on a miss. */
  revision(repo: string, digest: string, load: () => Promise<boolean>): Promise<boolean> {
    return this.#lookup(this.#revisions, `${repo}@${digest}`, load);
  }

  /** True when blob `digest` is linked into `repo`, through `load` on a miss. */
  link(repo: string, digest: string, load: () => Promise<boolean>): Promise<boolean> {
    return this.#lookup(this.#links, `${repo}@${digest}`, load);
  }

  /**
   * Records a change this process has just made on disk (call it after the rename or remove,
   * before returning): bumps the generation for the other processes and forgets what the
   * change touched (`repo`, and the tag or digest), or everything when another writer bumped
   * meanwhile.
   */
  changed(repo: string, what: { tag?: string; digest?: string }): void {
    const counter = this.#open();
    if (!counter) return;
    // Forget first: the change is on disk whether or not the bump below succeeds.
    this.#epoch++;
    if (what.tag !== undefined) this.#tags.delete(`${repo}:${what.tag}`);
    if (what.digest !== undefined) {
      this.#revisions.delete(`${repo}@${what.digest}`);
      this.#links.delete(`${repo}@${what.digest}`);
    }
    try {
      counter.bump();
    } catch (err) {
      // Not bumped (a full disk): nothing here may be trusted until the next bump is seen.
      this.#drop(-1);
      throw err;
    }
    const now = counter.value();
    if (now !== this.#seen + 1) this.#drop(now);
    else this.#seen = now;
  }

  /** Entries held now (for tests and the memory figure in docs/benchmarks.md). */
  get size(): number {
    return this.#tags.size + this.#revisions.size + this.#links.size;
  }
}

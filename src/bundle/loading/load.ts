/**
 * `bundle load`: the bundle goes into the registry storage in one streaming pass. Blobs are
 * stored as they stream by (blobs already stored are read past), the bundle file is hashed for
 * the signature during the same pass, and only when everything is stored and the signature
 * checks out are manifests linked and tags written, so no tag is ever visible for an image
 * that is incomplete or unverified. k0s binaries in the bundle wait in the uploads area the
 * same way (see `k0s_binaries.ts`). A journal in the storage makes a rerun of a complete
 * bundle a quick tag check, and a rerun after `kill -9` stores nothing twice.
 */
import type { KeyObject } from "node:crypto";
import { CancelledError, errorMessage, UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { formatBytes, type ProgressMode } from "../../log/progress.ts";
import { runChecked, type Runner } from "../../process/runner.ts";
import { RegistryError } from "../../registry/errors.ts";
import { openDiskStorage, type RegistryStorage } from "../../registry/storage/storage.ts";
import {
  journalPath,
  type LoadedRef,
  type LoadJournal,
  type LoadStatus,
  readJournal,
  writeJournal,
  writeLoadStatus,
} from "./load_state.ts";
import {
  planArchive,
  planBundle,
  type PlannedImage,
  readK0rdentVersion,
  rootFromFirstFile,
  scanBundleWithProgress,
} from "../reading/scan.ts";
import { openK0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import { addSiblingK0sBinaries, K0sFileSink, type StoredK0sBinary } from "./k0s_binaries.ts";
import {
  cosignVerifyArgv,
  readPublicKey,
  readSignatureFiles,
  SignatureCheck,
  signaturePath,
} from "../reading/signature.ts";
import { diskSpace, FreeSpaceGuard } from "./free_space.ts";
import { type SinkStats, StoreSink } from "./sinks.ts";
import { bundleError, type BundleInfo, type Decompressor, statBundle } from "../reading/source.ts";

/** How the bundle's signature is checked. */
export type VerifyMode = "native" | "cosign" | "off";

/** Options of {@link loadBundle}. */
export interface LoadOptions {
  bundle: string;
  storage: string;
  /** Repository prefix (`k0rdent-enterprise`; may be empty). */
  prefix: string;
  verify: VerifyMode;
  /** PEM public key (required unless `verify` is `off`). */
  key?: string;
  /** Detached signature; default `<bundle>.sig`. */
  signature?: string;
  runner: Runner;
  signal?: AbortSignal;
  progress?: ProgressMode;
  decompressor?: Decompressor;
  /** Keep `<storage>/bundle/status.json` up to date (background loads). */
  writeStatus?: boolean;
  /**
   * Tag each image as soon as its archive is stored (the daemon's background load), when no
   * signature is left to check (`verify` is `off` or `cosign`, checked before the pass) and
   * the bundle root is already certain. Otherwise all tags are written after the pass.
   */
  tagEarly?: boolean;
}

/** What a load did. */
export interface LoadResult {
  bundle: string;
  k0rdentVersion?: string;
  refs: LoadedRef[];
  /** k0s binaries the bundle holds, stored for child clusters. */
  k0sBinaries: StoredK0sBinary[];
  skipped: { path: string; reason: string }[];
  /** True when the journal showed the bundle complete and every tag was in place. */
  alreadyLoaded: boolean;
  verified: VerifyMode;
  /** Blobs written by this load (new to the storage) and their bytes. */
  blobsStored: number;
  bytesStored: number;
  /**
   * Blobs read past because the storage had them (a delta load reuses what an earlier bundle
   * stored; a blob shared by several archives of the bundle counts each time) and their bytes.
   */
  blobsPresent: number;
  bytesPresent: number;
  bytesRead: number;
  seconds: number;
}

/** Refuses to start when the storage cannot hold what the bundle may add and keep the reserve. */
async function preflight(guard: FreeSpaceGuard, info: BundleInfo, alreadyStored: number) {
  const need = Math.max(0, info.size - alreadyStored);
  const { free } = await diskSpace(guard.dir);
  if (free - need < guard.reserve) {
    throw new UserError(
      `Not enough free space in "${guard.dir}" to load bundle "${info.path}": it may add up to ` +
        `${formatBytes(need)}, ${formatBytes(free)} free, ${formatBytes(guard.reserve)} kept ` +
        `free; free some space or use --storage on a larger disk`,
    );
  }
}

/**
 * True when every reference of a complete journal is tagged as recorded and its k0s binaries
 * are stored.
 */
async function journalHolds(
  storage: RegistryStorage,
  dir: string,
  journal: LoadJournal,
): Promise<boolean> {
  if (journal.state !== "complete" || !journal.refs) return false;
  for (const ref of journal.refs) {
    if ((await storage.resolveTag(ref.repository, ref.tag)) !== ref.digest) return false;
  }
  const k0s = openK0sBinaryStore(dir);
  for (const b of journal.k0sBinaries ?? []) {
    if ((await k0s.stat(b.name))?.size !== b.size) return false;
  }
  return true;
}

/** Links blobs, stores manifests (children first) and writes the tag of every image. */
export async function tagImages(
  storage: RegistryStorage,
  images: readonly PlannedImage[],
): Promise<LoadedRef[]> {
  const refs: LoadedRef[] = [];
  for (const image of images) {
    const { repository, tag } = image;
    for (const m of image.contents.manifests) {
      for (const blob of m.blobs) await storage.linkBlob(repository, blob);
      const top = m.digest === image.digest;
      await storage.putManifest(repository, m.bytes, {
        reference: top ? tag : m.digest,
        contentType: m.mediaType,
      });
    }
    refs.push({ repository, tag, digest: image.digest });
  }
  return refs;
}

/** Checks the bundle's signature with `cosign verify-blob` (offline) as a separate pass. */
export async function verifyWithCosign(
  runner: Runner,
  bundle: string,
  key: string | undefined,
  signature: string | undefined,
  signal?: AbortSignal,
): Promise<void> {
  // Same checks and messages as the native verifier for missing files.
  await readSignatureFiles(bundle, { key, signature });
  log.info(`Verifying the signature of "${bundle}" with cosign`);
  try {
    await runChecked(
      runner,
      cosignVerifyArgv(bundle, { key: key!, signature: signature ?? signaturePath(bundle) }),
      { signal },
    );
  } catch (err) {
    throw new UserError(`Signature check of bundle "${bundle}" failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Loads a bundle into the registry storage; see the module comment. */
export async function loadBundle(options: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  const info = await statBundle(options.bundle);
  const storage = openDiskStorage(options.storage);
  const jPath = journalPath(options.storage, info, options.prefix);
  const previous = await readJournal(jPath);
  const base = {
    bundle: info.path,
    skipped: [],
    verified: options.verify,
    blobsStored: 0,
    bytesStored: 0,
    blobsPresent: 0,
    bytesPresent: 0,
    bytesRead: 0,
  };
  // A bundle loaded without a signature check is checked when a check is asked for now.
  const checkedBefore = options.verify === "off" || (previous?.verified ?? "off") !== "off";
  if (previous && checkedBefore && await journalHolds(storage, options.storage, previous)) {
    log.info(`Bundle "${info.path}" is already loaded (${previous.refs!.length} references)`);
    if (options.writeStatus) {
      const now = new Date().toISOString();
      await writeLoadStatus(options.storage, {
        bundle: info.path,
        state: "complete",
        bytesRead: 0,
        bytesTotal: info.size,
        imagesDone: previous.refs!.length,
        imagesTotal: previous.refs!.length,
        startedAt: now,
        updatedAt: now,
        k0rdentVersion: previous.k0rdentVersion,
        pid: Deno.pid,
      });
    }
    return {
      ...base,
      k0rdentVersion: previous.k0rdentVersion,
      refs: previous.refs!,
      k0sBinaries: previous.k0sBinaries ?? [],
      alreadyLoaded: true,
      seconds: (performance.now() - started) / 1000,
    };
  }

  const startedAt = new Date().toISOString();
  const status: LoadStatus = {
    bundle: info.path,
    state: "verifying",
    bytesRead: 0,
    bytesTotal: info.size,
    imagesDone: 0,
    imagesTotal: previous?.archives,
    startedAt,
    updatedAt: startedAt,
    pid: Deno.pid,
  };
  let lastStatus = 0;
  // What the pass stored and reused so far (set once the pass starts).
  let sinkStats: SinkStats | undefined;
  const saveStatus = async (force = false) => {
    if (!options.writeStatus) return;
    const now = Date.now();
    if (!force && now - lastStatus < 1000) return;
    lastStatus = now;
    if (sinkStats) {
      status.bytesStored = sinkStats.storedBytes;
      status.bytesPresent = sinkStats.presentBytes;
    }
    status.updatedAt = new Date(now).toISOString();
    await writeLoadStatus(options.storage, status);
  };

  // Holds the bundle's k0s binaries until the load succeeds (dropped on any failure).
  let k0sFiles: K0sFileSink | undefined;
  let guard: FreeSpaceGuard | undefined;
  try {
    await saveStatus(true);
    let check: SignatureCheck | undefined;
    let key: KeyObject | undefined;
    if (options.verify !== "off") {
      if (info.kind === "dir") {
        throw bundleError(
          info.path,
          "a directory has no signature to check; verify the .tar.gz before extracting it, " +
            "or pass --verify=false",
        );
      }
      if (options.verify === "native") {
        const files = await readSignatureFiles(info.path, {
          key: options.key,
          signature: options.signature,
        });
        key = files.key;
        check = new SignatureCheck(files.key, files.signature);
      } else {
        await verifyWithCosign(
          options.runner,
          info.path,
          options.key,
          options.signature,
          options.signal,
        );
        key = await readPublicKey({ kind: "bundle", path: info.path }, options.key);
      }
    } else {
      log.warn(`Loading bundle "${info.path}" WITHOUT checking its signature (--verify=false)`);
    }

    // A resumed load already stored part of what the bundle adds.
    const resumedBytes = previous?.state === "loading" ? previous.storedBytes ?? 0 : 0;
    guard = await FreeSpaceGuard.open(
      options.storage,
      `Cannot load bundle "${info.path}" into "${options.storage}"`,
    );
    if (guard) await preflight(guard, info, resumedBytes);
    const journal: LoadJournal = {
      bundle: info.path,
      size: info.size,
      mtimeMs: info.mtimeMs,
      prefix: options.prefix,
      state: "loading",
      startedAt,
      archives: previous?.archives,
      storedBytes: resumedBytes,
    };
    await writeJournal(jPath, journal);
    let lastJournal = Date.now();

    status.state = "loading";
    const sink = new StoreSink(storage, guard);
    sinkStats = sink.stats;
    k0sFiles = new K0sFileSink(
      openK0sBinaryStore(options.storage),
      info.path,
      key,
      options.key,
      guard,
    );
    let archives = 0;
    // See LoadOptions.tagEarly; null: not early, undefined: root not known yet.
    let earlyRoot: string | undefined | null = options.tagEarly && options.verify !== "native"
      ? undefined
      : null;
    const early: LoadedRef[] = [];
    // The number of archives is known only from an earlier pass over this bundle (0: unknown).
    const items = () => ({
      done: archives,
      total: previous?.archives ? Math.max(archives, previous.archives) : 0,
    });
    let scan;
    try {
      scan = await scanBundleWithProgress(info, sink, {
        label: "Loading bundle",
        mode: options.progress,
        items,
        itemsLabel: "archives",
      }, {
        decompressor: options.decompressor,
        signal: anySignal(options.signal, guard?.signal),
        hash: check,
        k0sFiles,
        onBytes: (n) => void (status.bytesRead += n),
        onFile: (path) => {
          if (earlyRoot === undefined) earlyRoot = rootFromFirstFile(path) ?? null;
        },
        onArchive: async (archive) => {
          archives++;
          // A file outside the assumed root: only the whole pass can name the rest.
          if (earlyRoot && !archive.path.startsWith(earlyRoot + "/")) earlyRoot = null;
          if (typeof earlyRoot === "string") {
            early.push(
              ...await tagImages(storage, [
                planArchive(info.path, archive, earlyRoot, options.prefix),
              ]),
            );
          }
          if (Date.now() - lastJournal > 2000) {
            lastJournal = Date.now();
            journal.storedBytes = resumedBytes + sink.stats.storedBytes;
            await writeJournal(jPath, journal);
          }
          status.imagesDone = archives;
          await saveStatus();
        },
      });
    } catch (err) {
      // Whatever stopped the pass, a rerun resumes: record what is stored for its preflight
      // (best effort: a full disk may refuse even this, and the reason below matters more).
      journal.storedBytes = resumedBytes + sink.stats.storedBytes;
      await writeJournal(jPath, journal).catch(() => {});
      if (options.signal?.aborted) {
        throw new CancelledError(
          `${errorMessage(options.signal.reason)}: the load of "${info.path}" stopped; rerun ` +
            `to resume`,
        );
      }
      if (guard?.signal.aborted) throw guard.signal.reason;
      if (err instanceof RegistryError || isDiskFull(err)) {
        throw new UserError(
          `Cannot load bundle "${info.path}" into "${options.storage}": ${(err as Error).message}`,
          { cause: err },
        );
      }
      throw err;
    }
    const plan = planBundle(info.path, scan, options.prefix);
    if (check && !check.verify()) {
      await sink.undo();
      throw new UserError(
        `Signature check of bundle "${info.path}" failed: the signature does not match the ` +
          `bundle and key "${options.key}"; nothing was loaded`,
      );
    }
    const k0rdentVersion = await readK0rdentVersion(info.path, plan, sink);
    let k0sBinaries: StoredK0sBinary[];
    try {
      k0sBinaries = await k0sFiles.commit();
    } catch (err) {
      if (err instanceof UserError) await sink.undo();
      throw err;
    }
    status.state = "tagging";
    status.imagesTotal = plan.images.length;
    status.k0rdentVersion = k0rdentVersion;
    await saveStatus(true);
    const refs = await tagImages(storage, plan.images);
    // An early tag the whole pass did not confirm (the root was not what it seemed) goes.
    const final = new Set(refs.map((r) => `${r.repository}:${r.tag}`));
    for (const r of early) {
      if (!final.has(`${r.repository}:${r.tag}`)) await storage.deleteTag(r.repository, r.tag);
    }
    await writeJournal(jPath, {
      ...journal,
      state: "complete",
      finishedAt: new Date().toISOString(),
      verified: options.verify,
      k0rdentVersion,
      archives: scan.archives.length,
      refs,
      k0sBinaries,
    });
    status.state = "complete";
    await saveStatus(true);
    return {
      ...base,
      k0rdentVersion,
      refs,
      k0sBinaries,
      skipped: plan.skipped,
      alreadyLoaded: false,
      blobsStored: sink.stats.stored,
      bytesStored: sink.stats.storedBytes,
      blobsPresent: sink.stats.present,
      bytesPresent: sink.stats.presentBytes,
      bytesRead: status.bytesRead,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await k0sFiles?.discard().catch(() => {});
    status.state = "failed";
    status.error = (err as Error).message;
    await saveStatus(true).catch(() => {});
    throw err;
  } finally {
    guard?.close();
  }
}

/**
 * Records in the complete journal of `bundle` the k0s binaries stored from beside it (after
 * {@link loadBundle}, by `addSiblingK0sBinaries`), so `registry gc --keep-bundles` removes them
 * with the bundle. Nothing happens when the bundle has no complete journal.
 */
export async function recordK0sBinariesBeside(
  options: Pick<LoadOptions, "bundle" | "storage" | "prefix">,
  binaries: readonly StoredK0sBinary[],
): Promise<void> {
  if (!binaries.length) return;
  const path = journalPath(options.storage, await statBundle(options.bundle), options.prefix);
  const journal = await readJournal(path);
  if (journal?.state !== "complete") return;
  const names = new Set(binaries.map((b) => b.name));
  journal.k0sBinariesBeside = [
    ...(journal.k0sBinariesBeside ?? []).filter((b) => !names.has(b.name)),
    ...binaries.map(({ name, size, signature }) => ({ name, size, signature })),
  ];
  await writeJournal(path, journal);
}

/**
 * A foreground load as `bundle load` and `upgrade` run it: {@link loadBundle}, then the k0s
 * binaries lying beside the bundle (signature-checked with the same key unless `verify` is off),
 * recorded in its journal. `k0sBinaries` of the result holds both kinds.
 */
export async function loadBundleWithBeside(options: LoadOptions): Promise<LoadResult> {
  const result = await loadBundle(options);
  const beside = await addSiblingK0sBinaries(options.bundle, {
    storage: options.storage,
    verify: options.verify !== "off",
    key: options.key,
  });
  await recordK0sBinariesBeside(options, beside);
  return { ...result, k0sBinaries: [...result.k0sBinaries, ...beside] };
}

/** A signal aborted when any of `signals` is. */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const set = signals.filter((s): s is AbortSignal => s !== undefined);
  return set.length > 1 ? AbortSignal.any(set) : set[0];
}

function isDiskFull(err: unknown): boolean {
  return err instanceof Error && /No space left|ENOSPC|quota/i.test(err.message);
}

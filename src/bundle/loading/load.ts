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
import type { Runner } from "../../process/runner.ts";
import { RegistryError } from "../../registry/errors.ts";
import { K0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import type { RegistryStorage } from "../../registry/storage/storage.ts";
import {
  type BundlePlan,
  planArchive,
  planBundle,
  type PlannedImage,
  readK0rdentVersion,
  rootFromFirstFile,
  scanBundleWithProgress,
  type ScanResult,
} from "../reading/scan.ts";
import {
  readPublicKey,
  readSignatureFiles,
  SignatureCheck,
  type VerifyMode,
} from "../reading/signature.ts";
import { verifyWithCosign } from "../reading/signature_pass.ts";
import { bundleError, type BundleInfo, type Decompressor, statBundle } from "../reading/source.ts";
import { diskSpace, FreeSpaceGuard } from "./free_space.ts";
import { addSiblingK0sBinaries, K0sFileSink, type StoredK0sBinary } from "./k0s_binaries.ts";
import { LoadRecorder } from "./load_recorder.ts";
import {
  journalFile,
  type LoadedRef,
  type LoadJournal,
  readJournal,
  writeJournal,
} from "./load_state.ts";
import { StoreSink } from "./sinks.ts";

/** Options of {@link loadBundle}. */
export interface LoadOptions {
  bundle: string;
  /**
   * The registry storage to load into (`openDiskStorage(dir)`, or the memory storage in tests);
   * its journal, status and k0s binaries go there too. On a disk, its free space is watched.
   */
  storage: RegistryStorage;
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
  /** Keep `bundle/status.json` in the storage up to date (background loads). */
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
async function journalHolds(storage: RegistryStorage, journal: LoadJournal): Promise<boolean> {
  if (journal.state !== "complete" || !journal.refs) return false;
  for (const ref of journal.refs) {
    if ((await storage.resolveTag(ref.repository, ref.tag)) !== ref.digest) return false;
  }
  const k0s = new K0sBinaryStore(storage.driver);
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

/** What one load works with, step to step. */
interface LoadRun {
  options: LoadOptions;
  info: BundleInfo;
  storage: RegistryStorage;
  recorder: LoadRecorder;
  started: number;
}

/** The result fields of a load that stored nothing. */
function emptyResult(run: LoadRun) {
  return {
    bundle: run.info.path,
    skipped: [],
    verified: run.options.verify,
    blobsStored: 0,
    bytesStored: 0,
    blobsPresent: 0,
    bytesPresent: 0,
    bytesRead: 0,
  };
}

/**
 * Step 0, a rerun: the result of an earlier complete load whose tags are all in place, or
 * undefined when the bundle must be read. A bundle loaded without a signature check is read
 * again when a check is asked for now.
 */
async function alreadyLoaded(run: LoadRun): Promise<LoadResult | undefined> {
  const { options, recorder } = run;
  const previous = recorder.previous;
  const checkedBefore = options.verify === "off" || (previous?.verified ?? "off") !== "off";
  if (!previous || !checkedBefore) return undefined;
  if (!await journalHolds(run.storage, previous)) return undefined;
  log.info(`Bundle "${run.info.path}" is already loaded (${previous.refs!.length} references)`);
  await recorder.alreadyLoaded(previous);
  return {
    ...emptyResult(run),
    k0rdentVersion: previous.k0rdentVersion,
    refs: previous.refs!,
    k0sBinaries: previous.k0sBinaries ?? [],
    alreadyLoaded: true,
    seconds: (performance.now() - run.started) / 1000,
  };
}

/** What the signature step leaves for the pass. */
interface SignatureState {
  /** The native check, fed by the pass and decided after it. */
  check?: SignatureCheck;
  /** The public key, which also checks the k0s binaries in the bundle. */
  key?: KeyObject;
}

/**
 * Step 1, check the signature: cosign checks it now in a pass of its own; the native check is
 * set up here and fed by the pass (decided in {@link confirmSignature}); `off` warns.
 */
async function checkSignature(run: LoadRun): Promise<SignatureState> {
  const { options, info } = run;
  if (options.verify === "off") {
    log.warn(`Loading bundle "${info.path}" WITHOUT checking its signature (--verify=false)`);
    return {};
  }
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
    return { key: files.key, check: new SignatureCheck(files.key, files.signature) };
  }
  await verifyWithCosign(options.runner, info.path, options.key, options.signature, options.signal);
  return { key: await readPublicKey({ kind: "bundle", path: info.path }, options.key) };
}

/** What the pass hands to the next steps. */
interface StreamedBundle {
  scan: ScanResult;
  /** Images tagged during the pass (see `LoadOptions.tagEarly`). */
  early: LoadedRef[];
}

/**
 * Step 2, stream: one pass over the bundle stores every blob (blobs already stored are read
 * past), feeds the native signature check and holds the k0s binaries; with `tagEarly` an image
 * is tagged as soon as its archive is stored while the bundle root is certain. A pass that
 * stops leaves the journal ready for a rerun to resume.
 */
async function streamBundle(
  run: LoadRun,
  sink: StoreSink,
  k0sFiles: K0sFileSink,
  signature: SignatureState,
  guard: FreeSpaceGuard | undefined,
): Promise<StreamedBundle> {
  const { options, info, recorder } = run;
  const previousArchives = recorder.previous?.archives;
  let archives = 0;
  // See LoadOptions.tagEarly; null: not early, undefined: root not known yet.
  let earlyRoot: string | undefined | null = options.tagEarly && options.verify !== "native"
    ? undefined
    : null;
  const early: LoadedRef[] = [];
  // The number of archives is known only from an earlier pass over this bundle (0: unknown).
  const items = () => ({
    done: archives,
    total: previousArchives ? Math.max(archives, previousArchives) : 0,
  });
  try {
    const scan = await scanBundleWithProgress(info, sink, {
      label: "Loading bundle",
      mode: options.progress,
      items,
      itemsLabel: "archives",
    }, {
      decompressor: options.decompressor,
      signal: anySignal(options.signal, guard?.signal),
      hash: signature.check,
      k0sFiles,
      onBytes: (n) => recorder.read(n),
      onFile: (path) => {
        if (earlyRoot === undefined) earlyRoot = rootFromFirstFile(path) ?? null;
      },
      onArchive: async (archive) => {
        archives++;
        // A file outside the assumed root: only the whole pass can name the rest.
        if (earlyRoot && !archive.path.startsWith(earlyRoot + "/")) earlyRoot = null;
        if (typeof earlyRoot === "string") {
          early.push(
            ...await tagImages(run.storage, [
              planArchive(info.path, archive, earlyRoot, options.prefix),
            ]),
          );
        }
        await recorder.archiveStored(archives);
      },
    });
    return { scan, early };
  } catch (err) {
    // Whatever stopped the pass, a rerun resumes.
    await recorder.passStopped();
    if (options.signal?.aborted) {
      throw new CancelledError(
        `${errorMessage(options.signal.reason)}: the load of "${info.path}" stopped; rerun ` +
          `to resume`,
      );
    }
    if (guard?.signal.aborted) throw guard.signal.reason;
    if (err instanceof RegistryError || isDiskFull(err)) {
      throw new UserError(
        `Cannot load bundle "${info.path}" into "${run.storage.location}": ` +
          (err as Error).message,
        { cause: err },
      );
    }
    throw err;
  }
}

/** The native check's verdict: a bundle that does not match undoes what it stored. */
async function confirmSignature(
  run: LoadRun,
  signature: SignatureState,
  sink: StoreSink,
): Promise<void> {
  if (!signature.check || signature.check.verify()) return;
  await sink.undo();
  throw new UserError(
    `Signature check of bundle "${run.info.path}" failed: the signature does not match the ` +
      `bundle and key "${run.options.key}"; nothing was loaded`,
  );
}

/**
 * Step 3, plan: names every image (the bundle root is certain now), takes the native
 * signature's verdict, reads the k0rdent version and keeps the bundle's k0s binaries.
 */
async function planLoad(
  run: LoadRun,
  scan: ScanResult,
  signature: SignatureState,
  sink: StoreSink,
  k0sFiles: K0sFileSink,
): Promise<{ plan: BundlePlan; k0rdentVersion?: string; k0sBinaries: StoredK0sBinary[] }> {
  const plan = planBundle(run.info.path, scan, run.options.prefix);
  await confirmSignature(run, signature, sink);
  const k0rdentVersion = await readK0rdentVersion(run.info.path, plan, sink);
  try {
    return { plan, k0rdentVersion, k0sBinaries: await k0sFiles.commit() };
  } catch (err) {
    if (err instanceof UserError) await sink.undo();
    throw err;
  }
}

/** Step 4, tag: every image of the plan, then early tags the whole pass did not confirm go. */
async function tagPlan(
  storage: RegistryStorage,
  images: readonly PlannedImage[],
  early: readonly LoadedRef[],
): Promise<LoadedRef[]> {
  const refs = await tagImages(storage, images);
  // An early tag the whole pass did not confirm (the root was not what it seemed) goes.
  const final = new Set(refs.map((r) => `${r.repository}:${r.tag}`));
  for (const r of early) {
    if (!final.has(`${r.repository}:${r.tag}`)) await storage.deleteTag(r.repository, r.tag);
  }
  return refs;
}

/**
 * Loads a bundle into the registry storage; see the module comment. The steps: a rerun of a
 * complete bundle stops at {@link alreadyLoaded}; else {@link checkSignature} →
 * {@link streamBundle} (after the disk preflight) → {@link planLoad} → {@link tagPlan}, with the
 * {@link LoadRecorder} keeping journal and status.
 */
export async function loadBundle(options: LoadOptions): Promise<LoadResult> {
  const started = performance.now();
  const info = await statBundle(options.bundle);
  const run: LoadRun = {
    options,
    info,
    storage: options.storage,
    recorder: await LoadRecorder.open(options.storage.driver, options, info),
    started,
  };
  const done = await alreadyLoaded(run);
  if (done) return done;
  const { recorder, storage } = run;

  // Holds the bundle's k0s binaries until the load succeeds (dropped on any failure).
  let k0sFiles: K0sFileSink | undefined;
  let guard: FreeSpaceGuard | undefined;
  try {
    await recorder.verifying();
    const signature = await checkSignature(run);

    // Storage on a local filesystem: its free space is watched (memory storage has none).
    const dir = storage.driver.directory;
    guard = dir === undefined
      ? undefined
      : await FreeSpaceGuard.open(dir, `Cannot load bundle "${info.path}" into "${dir}"`);
    // A resumed load already stored part of what the bundle adds.
    if (guard) await preflight(guard, info, recorder.resumedBytes);
    const sink = new StoreSink(storage, guard);
    await recorder.loading(sink.stats);
    k0sFiles = new K0sFileSink(
      new K0sBinaryStore(storage.driver),
      info.path,
      signature.key,
      options.key,
      guard,
    );
    const { scan, early } = await streamBundle(run, sink, k0sFiles, signature, guard);
    const { plan, k0rdentVersion, k0sBinaries } = await planLoad(
      run,
      scan,
      signature,
      sink,
      k0sFiles,
    );
    await recorder.tagging(plan.images.length, k0rdentVersion);
    const refs = await tagPlan(storage, plan.images, early);
    await recorder.complete({
      verified: options.verify,
      k0rdentVersion,
      archives: scan.archives.length,
      refs,
      k0sBinaries,
    });
    return {
      ...emptyResult(run),
      k0rdentVersion,
      refs,
      k0sBinaries,
      skipped: plan.skipped,
      alreadyLoaded: false,
      blobsStored: sink.stats.stored,
      bytesStored: sink.stats.storedBytes,
      blobsPresent: sink.stats.present,
      bytesPresent: sink.stats.presentBytes,
      bytesRead: recorder.bytesRead,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (err) {
    await k0sFiles?.discard().catch(() => {});
    await recorder.failed(err);
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
async function recordK0sBinariesBeside(
  options: Pick<LoadOptions, "bundle" | "storage" | "prefix">,
  binaries: readonly StoredK0sBinary[],
): Promise<void> {
  if (!binaries.length) return;
  const driver = options.storage.driver;
  const file = journalFile(await statBundle(options.bundle), options.prefix);
  const journal = await readJournal(driver, file);
  if (journal?.state !== "complete") return;
  const names = new Set(binaries.map((b) => b.name));
  journal.k0sBinariesBeside = [
    ...(journal.k0sBinariesBeside ?? []).filter((b) => !names.has(b.name)),
    ...binaries.map(({ name, size, signature }) => ({ name, size, signature })),
  ];
  await writeJournal(driver, file, journal);
}

/**
 * A foreground load as `bundle load` and `upgrade` run it: {@link loadBundle}, then the k0s
 * binaries lying beside the bundle (signature-checked with the same key unless `verify` is off),
 * recorded in its journal. `k0sBinaries` of the result holds both kinds.
 */
export async function loadBundleWithBeside(options: LoadOptions): Promise<LoadResult> {
  const result = await loadBundle(options);
  const beside = await storeK0sBinariesBeside(options);
  return { ...result, k0sBinaries: [...result.k0sBinaries, ...beside] };
}

/**
 * After a load of `bundle`: stores the k0s binaries lying beside it (signature-checked with the
 * same key unless `verify` is off) and records them in its journal; returns them.
 */
export async function storeK0sBinariesBeside(
  options: Pick<LoadOptions, "bundle" | "storage" | "prefix" | "verify" | "key">,
): Promise<StoredK0sBinary[]> {
  const beside = await addSiblingK0sBinaries(options.bundle, {
    store: new K0sBinaryStore(options.storage.driver),
    verify: options.verify !== "off",
    key: options.key,
  });
  await recordK0sBinariesBeside(options, beside);
  return beside;
}

/** A signal aborted when any of `signals` is. */
function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal | undefined {
  const set = signals.filter((s): s is AbortSignal => s !== undefined);
  return set.length > 1 ? AbortSignal.any(set) : set[0];
}

function isDiskFull(err: unknown): boolean {
  return err instanceof Error && /No space left|ENOSPC|quota/i.test(err.message);
}

/**
 * The one pass over a bundle: every file of the outer tar (or directory) is classified, each
 * OCI archive is read entry by entry with its blobs sent to a {@link BlobSink}, k0s binaries
 * go to their own sink (when the caller has one), and the result lists the archives read and
 * the files passed over. Then {@link planBundle} turns paths into references (lone top-level
 * folder stripped, naming rules applied), and, once the signature checked out,
 * {@link readK0rdentVersion} reads the k0rdent version from the chart layer of
 * `charts/k0rdent-enterprise_<V>.tar`.
 */
import { UserError } from "../../errors.ts";
import { Progress, type ProgressMode } from "../../log/progress.ts";
import { ChartError, readChartMeta } from "./chart.ts";
import {
  archiveReference,
  fileKind,
  isK0rdentChart,
  loneTopFolder,
  NamingError,
} from "./naming.ts";
import {
  type ArchiveContents,
  ArchiveError,
  type BlobSink,
  HELM,
  readOciArchive,
} from "./oci_archive.ts";
import {
  bundleError,
  bundleFiles,
  type BundleInfo,
  type ReadOptions,
  type StreamProbe,
  tarReason,
} from "./source.ts";
import { skipBody, UnsafeEntryError } from "./tar_walk.ts";

/** An archive read in the pass; `path` is relative to the bundle (root folder not stripped). */
export interface ScannedArchive {
  path: string;
  contents: ArchiveContents;
}

/** What the pass saw. */
export interface ScanResult {
  archives: ScannedArchive[];
  /** k0s binaries and their `.sig` handed to {@link ScanOptions.k0sFiles}. */
  k0sFiles: string[];
  /** Files passed over (skopeo image, non-archives), with the reason. */
  skipped: { path: string; reason: string }[];
  /** Every file path, in order (for the lone top-level folder). */
  paths: string[];
}

/** Options of {@link scanBundle}. */
export interface ScanOptions extends ReadOptions {
  /** Called with the path of each file as it starts. */
  onFile?: (path: string) => void;
  /** Called after each archive is read. */
  onArchive?: (archive: ScannedArchive) => void | Promise<void>;
  /** Takes the k0s binaries and their `.sig` (else they are skipped). */
  k0sFiles?: { put(path: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> };
}

const SKIP_REASONS = {
  skopeo: "bundled skopeo image",
  k0s: "k0s binary (stored by bundle load)",
  other: "not a .tar archive",
} as const;

/** Reads the whole bundle once, sending every blob to `sink`. */
export async function scanBundle(
  info: BundleInfo,
  sink: BlobSink,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const result: ScanResult = { archives: [], k0sFiles: [], skipped: [], paths: [] };
  const probe: StreamProbe = {};
  for await (const file of bundleFiles(info, options, probe)) {
    options.signal?.throwIfAborted();
    result.paths.push(file.path);
    options.onFile?.(file.path);
    const kind = fileKind(file.path);
    const failed = async (err: unknown, what: string) => {
      if (options.signal?.aborted) return options.signal.reason;
      if (err instanceof UserError) return err;
      const gzip = await probe.failure?.();
      if (gzip) return bundleError(info.path, gzip, err);
      const detail = err instanceof ArchiveError || err instanceof UnsafeEntryError
        ? err.message
        : tarReason(err);
      return bundleError(info.path, `${what} "${file.path}" ${detail}`, err);
    };
    if (kind === "k0s" && options.k0sFiles) {
      try {
        await options.k0sFiles.put(file.path, file.size, file.body);
      } catch (err) {
        throw await failed(err, "file");
      }
      result.k0sFiles.push(file.path);
      continue;
    }
    if (kind !== "archive") {
      result.skipped.push({ path: file.path, reason: SKIP_REASONS[kind] });
      await skipBody(file.body);
      continue;
    }
    let contents: ArchiveContents;
    try {
      contents = await readOciArchive(file.body, sink);
    } catch (err) {
      throw await failed(err, "archive");
    }
    const archive = { path: file.path, contents };
    result.archives.push(archive);
    await options.onArchive?.(archive);
  }
  return result;
}

/** How {@link scanBundleWithProgress} shows the pass. */
export interface ScanProgress {
  /** Short name of the work, e.g. "Loading bundle". */
  label: string;
  mode?: ProgressMode;
  /** Finished items to show beside the bytes; read on every update and after each archive. */
  items?: () => { done: number; total: number };
  /** What the items are (`archives 13`); see `ProgressOptions.itemsLabel`. */
  itemsLabel?: string;
}

/**
 * {@link scanBundle} with a {@link Progress} over the bundle's size, fed by every chunk read
 * and ended however the pass ends.
 */
export async function scanBundleWithProgress(
  info: BundleInfo,
  sink: BlobSink,
  show: ScanProgress,
  options: ScanOptions = {},
): Promise<ScanResult> {
  const progress = new Progress({
    label: show.label,
    total: info.size,
    itemsLabel: show.itemsLabel,
    mode: show.mode ?? "silent",
  });
  let read = 0;
  try {
    return await scanBundle(info, sink, {
      ...options,
      onBytes: (n) => {
        options.onBytes?.(n);
        progress.set(read += n, show.items?.());
      },
      onArchive: async (archive) => {
        await options.onArchive?.(archive);
        if (show.items) progress.set(read, show.items());
      },
    });
  } finally {
    progress.done();
  }
}

/** One image or chart to tag. */
export interface PlannedImage {
  /** Path relative to the bundle root. */
  path: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  size: number;
  chart: boolean;
  contents: ArchiveContents;
}

/** What a bundle holds, with references. */
export interface BundlePlan {
  /** The lone top-level folder that was taken as the bundle root ("" when none). */
  root: string;
  images: PlannedImage[];
  skipped: { path: string; reason: string }[];
}

/**
 * The bundle root as far as it is certain from the first file alone: "" when that file is at
 * the top level (no lone folder is possible), the vendor's `airgap-bundle-<V>` folder, or
 * undefined when only the whole pass can tell.
 */
export function rootFromFirstFile(path: string): string | undefined {
  const parts = path.split("/");
  if (parts.length === 1) return "";
  return /^airgap-bundle/.test(parts[0]) ? parts[0] : undefined;
}

/** Names one archive of a bundle whose root is `root`; a UserError names the file. */
export function planArchive(
  bundle: string,
  archive: ScannedArchive,
  root: string,
  prefix: string,
): PlannedImage {
  const { path: full, contents } = archive;
  const path = root ? full.slice(root.length + 1) : full;
  let ref;
  try {
    ref = archiveReference(path, prefix, contents.refName);
  } catch (err) {
    if (!(err instanceof NamingError)) throw err;
    throw bundleError(bundle, `archive "${full}": ${err.message}`);
  }
  return {
    path,
    ...ref,
    digest: contents.top.digest,
    mediaType: contents.top.mediaType,
    platforms: contents.platforms,
    size: contents.size,
    chart: contents.top.configMediaType === HELM.config,
    contents,
  };
}

/** Applies the naming rules; throws a UserError naming the file when a name is unusable. */
export function planBundle(bundle: string, scan: ScanResult, prefix: string): BundlePlan {
  const root = loneTopFolder(scan.paths);
  const images: PlannedImage[] = [];
  const seen = new Map<string, string>();
  for (const archive of scan.archives) {
    const image = planArchive(bundle, archive, root, prefix);
    const key = `${image.repository}:${image.tag}`;
    const other = seen.get(key);
    if (other) {
      throw bundleError(bundle, `archives "${other}" and "${archive.path}" both map to "${key}"`);
    }
    seen.set(key, archive.path);
    images.push(image);
  }
  return { root, images, skipped: scan.skipped };
}

/** A chart layer larger than this is not read back (the k0rdent chart's is about 100 KiB). */
export const MAX_CHART_LAYER_BYTES = 16 * 1024 * 1024;

/**
 * The k0rdent version: the `version` of Chart.yaml in the chart layer of
 * `charts/k0rdent-enterprise_<V>.tar` (undefined without that chart, or when `sink` cannot read
 * its layer back). The layer is untrusted compressed data: call this only after the signature
 * checked out. A layer that cannot be read is a UserError naming the chart file.
 */
export async function readK0rdentVersion(
  bundle: string,
  plan: BundlePlan,
  sink: BlobSink,
): Promise<string | undefined> {
  const image = plan.images.find((i) => i.chart && isK0rdentChart(i.path));
  const layer = image?.contents.chartLayer;
  if (!image || !layer) return undefined;
  const file = plan.root ? `${plan.root}/${image.path}` : image.path;
  try {
    if (layer.size > MAX_CHART_LAYER_BYTES) {
      throw new ChartError(
        `chart layer "${layer.digest}" has ${layer.size} bytes; at most ` +
          `${MAX_CHART_LAYER_BYTES} are read`,
      );
    }
    const bytes = layer.bytes ?? await sink.read(layer.digest);
    return bytes ? (await readChartMeta(bytes))?.version : undefined;
  } catch (err) {
    if (!(err instanceof ChartError)) throw err;
    throw bundleError(bundle, `chart "${file}": ${err.message}`, err);
  }
}

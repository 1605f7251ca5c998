/**
 * The k0rdent version of a bundle from the name of its chart archive,
 * `charts/k0rdent-enterprise_<V>.tar`, reading no further than that entry: a directory bundle
 * needs no data at all, a `.tar`/`.tar.gz` is read up to the chart's tar header.
 */
import { Progress, progressMode } from "../../log/progress.ts";
import type { OutputFormat } from "../../log/output.ts";
import { archiveReference, isK0rdentChart } from "./naming.ts";
import { bundleFiles, type ReadOptions, statBundle } from "./source.ts";
import { skipBody } from "./tar_walk.ts";

/** What {@link bundleK0rdentVersion} found. */
export interface BundleK0rdentVersion {
  /**
   * The chart's tag as a load pushes it (`+` of a SemVer build written as `_`), or undefined
   * when the bundle holds no `charts/k0rdent-enterprise_<V>.tar`.
   */
  tag?: string;
  /** The chart archive's path in the bundle. */
  path?: string;
}

/** The chart path relative to the bundle root: the path itself or without its top folder. */
function chartPath(path: string): string | undefined {
  if (isK0rdentChart(path)) return path;
  const rest = path.slice(path.indexOf("/") + 1);
  return path.includes("/") && isK0rdentChart(rest) ? rest : undefined;
}

/**
 * Finds the k0rdent chart of the bundle at `path` by file name and stops reading there.
 * Errors are `UserError`s naming the bundle (missing file, truncated or corrupt before the chart).
 */
export async function bundleK0rdentVersion(
  path: string,
  options: Pick<ReadOptions, "onBytes" | "signal"> = {},
): Promise<BundleK0rdentVersion> {
  const info = await statBundle(path);
  for await (const file of bundleFiles(info, options)) {
    options.signal?.throwIfAborted();
    const chart = chartPath(file.path);
    if (chart) {
      // Only the name is needed. A directory's file is closed by cancelling it; a tar
      // entry's unread body is dropped with the whole stream when the loop ends here.
      if (info.kind === "dir") await file.body.cancel();
      return { tag: archiveReference(chart, "").tag, path: file.path };
    }
    if (info.kind === "dir") await file.body.cancel();
    else await skipBody(file.body);
  }
  return {};
}

/** {@link bundleK0rdentVersion} with progress once the read takes longer than a second. */
export async function bundleK0rdentVersionWithProgress(
  path: string,
  options: { signal?: AbortSignal; output: OutputFormat },
): Promise<BundleK0rdentVersion> {
  const started = Date.now();
  let progress: Progress | undefined;
  let read = 0;
  try {
    return await bundleK0rdentVersion(path, {
      signal: options.signal,
      onBytes(n) {
        read += n;
        if (!progress && Date.now() - started > 1000) {
          progress = new Progress({
            label: "Looking for the k0rdent chart in the bundle",
            total: 0,
            mode: progressMode(options.output),
          });
        }
        progress?.set(read);
      },
    });
  } finally {
    progress?.done();
  }
}

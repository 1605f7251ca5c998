/**
 * The registry daemon's `--bundle-path`: the bundle is loaded into the storage the daemon
 * serves, in the background, while `/v2/` answers; then the k0s binaries lying beside it are
 * stored too (served on `--files-port`). Progress and outcome go to `bundle/status.json` in the
 * storage (see `load_state.ts`), which `registry status` prints, and on a
 * terminal the daemon shows the load's progress bar below its log lines.
 */
import { errorMessage } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { formatBytes, progressMode } from "../../log/progress.ts";
import type { Runner } from "../../process/runner.ts";
import type { RegistryStorage } from "../../registry/storage/storage.ts";
import type { VerifyMode } from "../reading/signature.ts";
import { loadBundle, storeK0sBinariesBeside } from "./load.ts";
import type { LoadStatus } from "./load_state.ts";

/** Options of {@link startBackgroundLoad}. */
export interface BackgroundLoadOptions {
  bundle: string;
  /** The storage the daemon serves. */
  storage: RegistryStorage;
  prefix: string;
  verify: VerifyMode;
  key?: string;
  runner: Runner;
  signal: AbortSignal;
}

/**
 * Starts loading and returns `done`, which settles when the load ends and never rejects (the
 * outcome is logged and written to the status file). The load runs with the serve permissions:
 * decompression is in-process, and the disk preflight and free-space watch need `statfs`
 * (skipped with a warning where it is not permitted).
 */
export function startBackgroundLoad(options: BackgroundLoadOptions): { done: Promise<void> } {
  log.info(`Loading bundle "${options.bundle}" in the background (see: k0rdentd registry status)`);
  const done = loadBundle({
    ...options,
    verify: options.verify === "cosign" ? "native" : options.verify,
    decompressor: "builtin",
    writeStatus: true,
    tagEarly: true,
    // A bar on a terminal (log lines go above it); nothing in a journal, which has status.json.
    progress: progressMode("text") === "tty" ? "tty" : "silent",
  }).then(
    async (r) => {
      log.info(
        r.alreadyLoaded
          ? `Bundle "${options.bundle}" already loaded (${r.refs.length} references)`
          : `Bundle "${options.bundle}" loaded: ${r.refs.length} references, ` +
            `${formatBytes(r.bytesStored)} new, ${formatBytes(r.bytesPresent)} reused, ` +
            `in ${r.seconds.toFixed(0)} s`,
      );
      await storeK0sBinariesBeside(options)
        .catch((err) => log.error(`k0s binaries beside the bundle: ${errorMessage(err)}`));
    },
    (err) => log.error(`Bundle load failed: ${errorMessage(err)}`),
  );
  return { done };
}

/** The last load's status of `storage` as text lines (for `registry status`). */
export function statusText(status: LoadStatus | undefined): string {
  if (!status) return "No bundle load recorded in this storage";
  const pct = status.bytesTotal ? (100 * status.bytesRead / status.bytesTotal).toFixed(1) : "?";
  return [
    `Bundle:   ${status.bundle}`,
    `State:    ${status.state}${status.error ? `: ${status.error}` : ""}`,
    `Progress: ${formatBytes(status.bytesRead)} / ${formatBytes(status.bytesTotal)} (${pct}%)`,
    `Images:   ${status.imagesDone}${status.imagesTotal ? ` / ${status.imagesTotal}` : ""}`,
    ...(status.bytesStored !== undefined
      ? [
        `Blobs:    ${formatBytes(status.bytesStored)} new, ` +
        `${formatBytes(status.bytesPresent ?? 0)} reused (already stored)`,
      ]
      : []),
    ...(status.k0rdentVersion ? [`k0rdent:  ${status.k0rdentVersion}`] : []),
    `Started:  ${status.startedAt}`,
    `Updated:  ${status.updatedAt}`,
  ].join("\n");
}

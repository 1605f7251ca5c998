/**
 * `uninstall`: stops and resets k0s, removes the files k0rdentd wrote
 * (k0s config, containerd drop-ins, helm values, the k0s binary when it put
 * it there) and keeps the user's `/etc/k0rdentd` config. `purge` also removes
 * the registry storage. Every change goes through the {@link HostMutator}.
 */
import { dirname, posix } from "node:path";
import type { Config } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { formatPlan, HostMutator } from "../host/mutator.ts";
import { HOST } from "../host/paths.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { log } from "../log/logger.ts";
import type { Runner } from "../process/runner.ts";
import { loadState, lockHost } from "./state.ts";
import { pathExists } from "../fsx/exists.ts";
import { joinTokenPath } from "../join/token.ts";
import { REGISTRY_UNIT } from "../join/phases/registry_replica.ts";

/** What `uninstall` needs. */
export interface UninstallRequest {
  config: Config;
  runner: Runner;
  dryRun: boolean;
  /** Also delete the registry storage. */
  purge: boolean;
  commandTimeoutMs: number;
  signal: AbortSignal;
}

/** What was (or would be) removed. */
export interface UninstallSummary {
  dryRun: boolean;
  changes: string[];
  /** Kept on purpose. */
  kept: string[];
}

async function removeEmptyDirs(host: HostMutator, path: string, stop: string): Promise<void> {
  for (let dir = dirname(path); dir.startsWith(stop) && dir !== stop; dir = dirname(dir)) {
    let empty = true;
    try {
      for await (const _ of Deno.readDir(host.mapPath(dir))) {
        empty = false;
        break;
      }
    } catch {
      return;
    }
    if (!empty) return;
    await host.remove(dir);
  }
}

/** Trees registry storage never lives in: `--purge` refuses them, what is below and what is above. */
const SYSTEM_TREES = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/proc",
  "/sbin",
  "/sys",
  "/usr",
  HOST.k0sData,
];

/** Directories storage may live below, but which `--purge` must never delete (nor what is above). */
const KEEP = [
  "/home",
  "/media",
  "/mnt",
  "/opt",
  "/root",
  "/srv",
  "/tmp",
  "/var/log",
  HOST.installState,
];

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/**
 * Throws a UserError unless `storage` is safe to delete recursively: an absolute path, not inside
 * a system tree (`/etc`, `/usr`, `/var/lib/k0s`, ...) and not holding one of those or of
 * {@link KEEP} (so `/`, `/var` or `/home` from a config typo never go).
 */
export function checkPurgeTarget(storage: string): void {
  const path = posix.normalize(storage).replace(/(.)\/+$/, "$1");
  const above = (dir: string) => path === "/" || within(dir, path);
  const reason = !posix.isAbsolute(path)
    ? "it is not an absolute path"
    : SYSTEM_TREES.some((dir) => within(path, dir) || above(dir)) || KEEP.some(above)
    ? "it is, holds or lies in a system directory"
    : null;
  if (reason) {
    throw new UserError(
      `Refusing to purge registry.storage "${storage}": ${reason}; nothing was changed`,
    );
  }
}

/** Runs the uninstall (the caller has asked for confirmation). */
export async function uninstall(request: UninstallRequest): Promise<UninstallSummary> {
  if (request.purge) checkPurgeTarget(request.config.registry.storage);
  const host = new HostMutator(request.runner, request.dryRun);
  const release = await lockHost(host, { create: false });
  try {
    return await uninstallLocked(request, host);
  } finally {
    await release();
  }
}

async function uninstallLocked(
  request: UninstallRequest,
  host: HostMutator,
): Promise<UninstallSummary> {
  const k0s = new K0sCli({
    runner: request.runner,
    host,
    timeoutMs: request.commandTimeoutMs,
    signal: request.signal,
  });
  const state = await loadState(host);
  // A joined worker has only the worker service, and `k0s install worker` creates no data dir
  // (k0sproject/k0s v1.32.8+k0s.0 cmd/install/worker.go): a join stopped before `k0s start`
  // leaves just that unit, which `k0s reset` removes with the controller's
  // (pkg/cleanup/services.go uninstalls both roles).
  const service = await k0s.serviceInstalled("controller") ||
    await k0s.serviceInstalled("worker");
  if (await k0s.installed()) {
    // A k0s that died and systemd restarts is stopped too: else it comes back during the reset.
    if (await k0s.status() || await k0s.serviceStarting()) await k0s.stop();
    if (service || await pathExists(host.mapPath(HOST.k0sData))) {
      await k0s.reset();
    }
  } else if (service) {
    log.warn(`k0s service is installed but ${HOST.k0sBinary} is missing: cannot run "k0s reset"`);
  }
  // `k0s reset` keeps /etc/k0s (k0s v1.32.8+k0s.0 pkg/cleanup/directories.go removes the data,
  // kubelet and run dirs only): the join token a join wrote there (a credential) goes with the rest.
  const files = new Set([
    ...(state.files ?? []),
    HOST.k0sConfig,
    HOST.helmValues,
    joinTokenPath("controller"),
    joinTokenPath("worker"),
  ]);
  // A registry replica's unit (install --join --registry-replica) is stopped and disabled before
  // its file goes: removing the file alone leaves the daemon running and, until a daemon-reload,
  // enabled (systemctl(1), "disable": --now also stops the unit).
  const replica = state.files?.includes(HOST.registryUnit) === true &&
    await pathExists(host.mapPath(HOST.registryUnit));
  if (replica) await host.run(["systemctl", "disable", "--now", REGISTRY_UNIT]);
  for (const file of [...files].sort()) {
    await host.remove(file);
    if (file.startsWith(HOST.containerdCertsD)) {
      await removeEmptyDirs(host, file, HOST.containerdCertsD);
    }
  }
  if (replica) await host.run(["systemctl", "daemon-reload"]);
  if (state.k0sBinaryOurs) await host.remove(HOST.k0sBinary);
  await host.remove(HOST.helmBinary);
  if (request.purge) await host.remove(request.config.registry.storage);
  await host.remove(HOST.installState);
  const kept: string[] = [HOST.k0rdentdEtc];
  if (!request.purge) kept.push(request.config.registry.storage);
  if (!state.k0sBinaryOurs && await pathExists(host.mapPath(HOST.k0sBinary))) {
    kept.push(HOST.k0sBinary);
  }
  return { dryRun: request.dryRun, changes: host.changes, kept };
}

/** The summary as text. */
export function formatUninstall(summary: UninstallSummary): string {
  if (!summary.dryRun && summary.changes.length === 0) {
    return `Nothing to uninstall: no k0s and no files of k0rdentd on this host\nKept: ${
      summary.kept.join(", ")
    }`;
  }
  return [
    summary.dryRun ? formatPlan(summary.changes) : [
      `Uninstalled: ${summary.changes.length} change(s)`,
      ...summary.changes.map((c) => `  ${c}`),
    ]
      .join("\n"),
    `Kept: ${summary.kept.join(", ")}`,
    ...(summary.dryRun ? [] : ["A reboot is advised to clear k0s's network state"]),
  ].join("\n");
}

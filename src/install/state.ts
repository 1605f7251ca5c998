/**
 * What k0rdentd remembers between installs (`/var/lib/k0rdentd/install-state.json`,
 * mode 0600): which files and binaries it created, and digests of what it
 * last applied, so a rerun knows what is done and uninstall what is ours.
 * It holds digests, never secrets.
 */
import type { HostMutator } from "../host/mutator.ts";
import { pathExists } from "../fsx/exists.ts";
import { takePidLock } from "../fsx/pid_lock.ts";
import { HOST } from "../host/paths.ts";

/** The remembered state. */
export interface InstallState {
  /** True when k0rdentd put the k0s binary in place (uninstall removes it). */
  k0sBinaryOurs?: boolean;
  /** Host paths of files k0rdentd wrote (k0s config, containerd drop-ins). */
  files?: string[];
  /** The k0s config changed under an installed k0s, which has not restarted since. */
  k0sRestartPending?: boolean;
  /** sha256 of the helm release inputs (chart, version, values) last applied. */
  helmDigest?: string;
  /**
   * sha256 of the credential objects last applied (this file is 0600, like the config that
   * holds the secrets themselves).
   */
  credentialsDigest?: string;
  /** sha256 of the UI exposure objects last applied. */
  uiDigest?: string;
  /** The mode of the last install. */
  airgap?: boolean;
  /** The k0rdent version helm installed, then the one the last upgrade moved kcm to. */
  k0rdentVersion?: string;
  /** Air gap: the repository prefix k0rdent was installed from (an upgrade keeps it). */
  registryPrefix?: string;
}

/** Reads the state; an absent or unreadable file is an empty state. */
export async function loadState(host: HostMutator): Promise<InstallState> {
  try {
    return JSON.parse(await Deno.readTextFile(host.mapPath(HOST.installState))) as InstallState;
  } catch {
    return {};
  }
}

/** Merges `patch` into `state` and writes it (through the mutator, so dry-run holds). */
export async function saveState(
  host: HostMutator,
  state: InstallState,
  patch: Partial<InstallState>,
): Promise<void> {
  Object.assign(state, patch);
  if (state.files) state.files = [...new Set(state.files)].sort();
  await host.writeFile(HOST.installState, JSON.stringify(state, null, 2) + "\n", {
    mode: 0o600,
    dirMode: 0o700,
    bookkeeping: true,
  });
}

/**
 * Takes the host's install lock (`/var/lib/k0rdentd/install.lock`): one install, join or
 * uninstall changes the host at a time. Nothing is taken under dry-run, nor when `create` is
 * false and the state directory does not exist. Returns the release function.
 */
export async function lockHost(
  host: HostMutator,
  options: { create?: boolean } = {},
): Promise<() => Promise<void>> {
  const none = () => Promise.resolve();
  if (host.dryRun) return none;
  const dir = host.mapPath(HOST.stateDir);
  if (options.create === false && !await pathExists(dir)) return none;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  return await takePidLock(
    host.mapPath(HOST.installLock),
    (pid) =>
      `Another k0rdentd (pid ${pid}) is changing this host: wait for it to finish (or remove "${HOST.installLock}" if pid ${pid} is not k0rdentd)`,
  );
}

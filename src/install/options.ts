/**
 * Turns install flags into {@link InstallOptions}: durations, the preflight
 * ignore list, defaults for timeouts and the k0s download location.
 */
import { readRegistryCa } from "../airgap_registry/ca.ts";
import { durationMs } from "../config/duration.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage, UsageError, UserError } from "../errors.ts";
import { DEFAULT_HELM_VERSION, OFFICIAL_SOURCES } from "../releases/pins.ts";
import type { InstallOptions } from "./phase.ts";
import { k0sArch, parseIgnoreList } from "./preflight.ts";

/** Flags of `install`, as commander parses them. */
export interface InstallFlags {
  airgap?: boolean;
  registryMirror?: boolean;
  k0sBinary?: string;
  helmBinary?: string;
  replaceK0s?: boolean;
  allowDowngrade?: boolean;
  ignorePreflightErrors?: string;
  timeout?: string;
  k0rdentTimeout?: string;
  commandTimeout?: string;
  pollInterval?: string;
  k0sDownloadUrl?: string;
  helmVersion?: string;
  helmDownloadUrl?: string;
}

/** Defaults of the waits (the numbers). */
export const DEFAULT_TIMEOUTS = {
  kubernetesMs: 5 * 60_000,
  k0rdentMs: 15 * 60_000,
  commandMs: 10 * 60_000,
  pollMs: 5_000,
};

/** Parses a duration such as `90s`, `5m`, `1h` or `500ms`. */
export function parseDuration(flag: string, value: string): number {
  const parsed = durationMs(value);
  if (parsed === undefined) {
    throw new UsageError(`Invalid ${flag} "${value}": expected a duration such as 90s, 5m or 1h`);
  }
  return parsed;
}

/** Builds the options; `airgapFlavor` is true for the air-gap build (implies --airgap). */
export function installOptions(flags: InstallFlags, airgapFlavor: boolean): InstallOptions {
  const dur = (flag: string, value: string | undefined, fallback: number) =>
    value === undefined ? fallback : parseDuration(flag, value);
  const timeout = flags.timeout === undefined
    ? undefined
    : parseDuration("--timeout", flags.timeout);
  const airgap = airgapFlavor || flags.airgap === true;
  return {
    airgap,
    mirror: airgap || flags.registryMirror === true,
    k0sBinary: flags.k0sBinary,
    helmBinary: flags.helmBinary,
    replaceK0s: flags.replaceK0s === true,
    allowDowngrade: flags.allowDowngrade === true,
    ignorePreflight: parseIgnoreList(flags.ignorePreflightErrors),
    kubernetesTimeoutMs: timeout ?? DEFAULT_TIMEOUTS.kubernetesMs,
    k0rdentTimeoutMs: dur(
      "--k0rdent-timeout",
      flags.k0rdentTimeout,
      timeout ?? DEFAULT_TIMEOUTS.k0rdentMs,
    ),
    commandTimeoutMs: dur("--command-timeout", flags.commandTimeout, DEFAULT_TIMEOUTS.commandMs),
    pollIntervalMs: dur("--poll-interval", flags.pollInterval, DEFAULT_TIMEOUTS.pollMs),
    k0sDownloadUrl: flags.k0sDownloadUrl ?? (Deno.env.get("K0RDENTD_K0S_DOWNLOAD_URL") ||
      OFFICIAL_SOURCES.k0sBase),
    helmVersion: flags.helmVersion ?? DEFAULT_HELM_VERSION,
    helmDownloadUrl: flags.helmDownloadUrl ?? (Deno.env.get("K0RDENTD_HELM_DOWNLOAD_URL") ||
      OFFICIAL_SOURCES.helmBase),
    arch: k0sArch() ?? Deno.build.arch,
  };
}

/**
 * Checks the files the flags and config name (`--k0s-binary`, `--helm-binary`, the registry CA)
 * before any phase runs, so a typo fails at once instead of after k0s was installed.
 */
export async function checkInputFiles(options: InstallOptions, config: Config): Promise<void> {
  for (
    const [flag, path] of [["--k0s-binary", options.k0sBinary], [
      "--helm-binary",
      options.helmBinary,
    ]]
  ) {
    if (path === undefined) continue;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (err) {
      throw new UserError(`Cannot use ${flag} "${path}": ${errorMessage(err)}`);
    }
    if (!info.isFile) throw new UserError(`Cannot use ${flag} "${path}": not a file`);
  }
  if (options.mirror) await readRegistryCa(config);
}

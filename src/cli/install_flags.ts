/**
 * The flags `install` and `upgrade` share, and how they become configuration overrides and
 * {@link InstallRequest} options: one definition for both commands.
 */
import type { Command } from "commander";
import { readBuildInfo } from "../assets/build_info.ts";
import type { InstallRequest } from "../install/install.ts";
import { type InstallFlags, installOptions } from "../install/options.ts";
import { PREFLIGHT_NAMES } from "../install/preflight.ts";
import { UsageError } from "../errors.ts";
import type { Override } from "../config/load.ts";
import { readLine } from "./confirm.ts";
import { commandContext, flagOverrides } from "./context.ts";

/** Flags that override configuration keys. */
export const INSTALL_OVERRIDES = {
  k0sVersion: { path: ["k0s", "version"], flag: "--k0s-version" },
  k0rdentVersion: { path: ["k0rdent", "version"], flag: "--k0rdent-version" },
  registryAddress: { path: ["airgap", "registry", "address"], flag: "--registry-address" },
  registryPrefix: { path: ["airgap", "registry", "prefix"], flag: "--registry-prefix" },
  registryCa: { path: ["airgap", "registry", "caFile"], flag: "--registry-ca" },
  registryUsername: { path: ["airgap", "registry", "username"], flag: "--registry-username" },
  registryAdvertiseAddress: {
    path: ["airgap", "registry", "advertiseAddress"],
    flag: "--registry-advertise-address",
  },
  airgapBundlePath: { path: ["airgap", "bundlePath"], flag: "--airgap-bundle-path" },
};

/** The shared flags as commander parses them. */
export interface SharedInstallFlags extends InstallFlags {
  registryCa?: string;
  registryInsecure?: boolean;
  registryPasswordStdin?: boolean;
  showPassword?: boolean;
}

/** Adds the shared flags to `cmd`; `bundleHelp` says what `--airgap-bundle-path` is for. */
export function addInstallFlags(cmd: Command, bundleHelp: string): Command {
  return cmd
    .option("--airgap", "install from the local registry (implied by the air-gap build)")
    .option(
      "--registry-mirror",
      "online: pull through the --registry-address registry, upstream as fallback",
    )
    .option("--k0s-binary <path>", "install this k0s binary instead of downloading/extracting one")
    .option("--helm-binary <path>", "use this helm instead of the one on PATH")
    .option("--k0s-version <version>", "k0s version to download, e.g. v1.32.8+k0s.0")
    .option(
      "--k0rdent-version <version>",
      "k0rdent chart version (default: air gap the bundle's or the registry's highest, else 1.2.0)",
    )
    .option(
      "--registry-address <host:port[,...]>",
      "air-gap registry as this host reaches it; replicas comma-separated, in the order to try (config airgap.registry.address)",
    )
    .option(
      "--registry-advertise-address <host[:port]>",
      "the registry as pods and other nodes reach it (default: this host's IP when the address is loopback)",
    )
    .option("--registry-prefix <prefix>", "repository prefix in the registry")
    .option(
      "--registry-ca <file>",
      "CA of the registry's certificate (default: <registry.storage>/tls/ca.crt when present)",
    )
    .option(
      "--registry-username <user>",
      "pull credentials of the registry (Harbor, Distribution; env K0RDENTD_REGISTRY_USERNAME)",
    )
    .option(
      "--registry-password-stdin",
      "read the registry password from stdin (or env K0RDENTD_REGISTRY_PASSWORD)",
    )
    .option(
      "--registry-insecure",
      "plain-HTTP registry (not supported by k0rdent Enterprise; config airgap.registry.insecure)",
    )
    .option("--airgap-bundle-path <path>", bundleHelp)
    .option("--replace-k0s", "replace an installed k0s of another version")
    .option(
      "--ignore-preflight-errors <names>",
      `checks to only warn about: ${PREFLIGHT_NAMES.join(",")} or all`,
    )
    .option(
      "--timeout <duration>",
      "limit for each readiness wait (default 5m Kubernetes, 15m k0rdent)",
    )
    .option("--k0rdent-timeout <duration>", "limit for k0rdent to become ready (default 15m)")
    .option("--command-timeout <duration>", "limit for any one k0s/helm command (default 10m)")
    .option("--poll-interval <duration>", "sleep between readiness checks (default 5s)")
    .option("--helm-version <version>", "helm to download when none is on PATH (online)")
    .option(
      "--helm-download-url <url>",
      "base URL of helm releases (env K0RDENTD_HELM_DOWNLOAD_URL)",
    )
    .option("--show-password", "print the k0rdent UI password in the summary")
    .option("--k0s-download-url <url>", "base URL of k0s releases (env K0RDENTD_K0S_DOWNLOAD_URL)");
}

/**
 * Turns the shared flags into the configuration overrides (reading a password from stdin when
 * asked) plus `extra`, and builds the request.
 */
export async function installRequest(
  cmd: Command,
  flags: SharedInstallFlags,
  extra: Override[] = [],
): Promise<InstallRequest> {
  const overrides = [...flagOverrides(cmd, INSTALL_OVERRIDES), ...extra];
  if (flags.registryCa !== undefined && flags.registryInsecure) {
    throw new UsageError("Use either --registry-ca or --registry-insecure, not both");
  }
  if (flags.registryPasswordStdin) {
    const password = await readLine();
    if (!password) throw new UsageError("--registry-password-stdin read no password on stdin");
    overrides.push({
      path: ["airgap", "registry", "password"],
      value: password.replace(/\r$/, ""),
      flag: "--registry-password-stdin",
    });
  }
  if (flags.registryCa !== undefined || flags.registryInsecure) {
    overrides.push({
      path: ["airgap", "registry", "insecure"],
      value: flags.registryInsecure === true,
      flag: flags.registryInsecure ? "--registry-insecure" : "--registry-ca",
    });
  }
  const ctx = await commandContext(cmd, overrides);
  const flavor = (await readBuildInfo()).flavor;
  return {
    config: ctx.config,
    options: installOptions(flags, flavor === "airgap"),
    runner: ctx.runner,
    dryRun: ctx.dryRun,
    output: ctx.output,
    signal: ctx.signal,
    showPassword: flags.showPassword === true,
  };
}

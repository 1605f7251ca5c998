/** `k0rdentd install`: flags to options; the work is in `src/install/`. */
import type { Command } from "commander";
import { readBuildInfo } from "../../assets/build_info.ts";
import { formatSummary, install } from "../../install/install.ts";
import { installOptions } from "../../install/options.ts";
import { formatJoinSummary, joinNode, resolveJoin } from "../../join/join_node.ts";
import { PREFLIGHT_NAMES } from "../../install/preflight.ts";
import { printData } from "../../log/output.ts";
import { commandContext, flagOverrides } from "../context.ts";
import { ReportedFailure, UsageError } from "../../errors.ts";
import { readLine } from "../confirm.ts";

const OVERRIDES = {
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

/** Registers `install`. */
export function registerInstall(program: Command): void {
  program.command("install")
    .description(
      "Install k0s and k0rdent on this host (idempotent: rerun to resume or apply changes)",
    )
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
    .option(
      "--airgap-bundle-path <path>",
      "air-gap: bundle whose k0rdent version preflight checks (config airgap.bundlePath)",
    )
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
    .option("--k0s-download-url <url>", "base URL of k0s releases (env K0RDENTD_K0S_DOWNLOAD_URL)")
    .option("--join", "join an existing cluster (config join: section; see docs/multi-node.md)")
    .option("--mode <role>", "with --join: controller or worker")
    .option("--token-file <file>", "with --join: file holding a join token (k0s token create)")
    .option("--token <token>", "with --join: join token (prefer --token-file: argv is visible)")
    .addHelpText(
      "after",
      `
Examples:
  sudo k0rdentd install
  sudo k0rdentd install --dry-run
  sudo k0rdentd install --k0rdent-version 1.2.0 --timeout 10m
  sudo k0rdentd install --airgap --airgap-bundle-path ./airgap-bundle-1.2.3.tar.gz
  sudo k0rdentd install --airgap --k0s-binary ./k0s --registry-advertise-address 10.0.0.5
  sudo k0rdentd install --airgap --registry-address registry.lan:5000 --registry-ca ./ca.crt
  sudo k0rdentd install --airgap --registry-address localhost:5000,10.0.0.6:5000,10.0.0.7:5000
  sudo k0rdentd install --airgap --registry-insecure   # plain HTTP: not for k0rdent Enterprise
  printf '%s\n' "$PW" | sudo k0rdentd install --airgap --registry-address harbor.example.com \
    --registry-username robot --registry-password-stdin
  sudo k0rdentd install --ignore-preflight-errors=ports,disk
  sudo k0rdentd install --join --mode worker --token-file ./worker-token
  sudo k0rdentd -c worker-join.yaml install --join`,
    )
    .action(async (flags, cmd: Command) => {
      const overrides = flagOverrides(cmd, OVERRIDES);
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
      const request = {
        config: ctx.config,
        options: installOptions(flags, flavor === "airgap"),
        runner: ctx.runner,
        dryRun: ctx.dryRun,
        output: ctx.output,
        signal: ctx.signal,
      };
      const join = await resolveJoin(flags, ctx.config);
      if (join) {
        const joined = await joinNode(request, join);
        printData(ctx.output, joined, () => formatJoinSummary(joined));
        failOnFindings(joined.preflightFindings.length);
        return;
      }
      const summary = await install(request);
      printData(ctx.output, summary, () => formatSummary(summary));
      failOnFindings(summary.preflightFindings.length);
    });
}

/**
 * A dry run plans everything, then exits 1 when preflight found problems (the summary lists
 * them): the real run would stop there, and scripts asking "would this work?" must see it.
 */
function failOnFindings(count: number): void {
  if (count) throw new ReportedFailure(`Dry run: ${count} preflight finding(s)`);
}

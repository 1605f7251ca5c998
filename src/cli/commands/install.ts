/** `k0rdentd install`: flags to options; the work is in `src/install/`. */
import type { Command } from "commander";
import { formatSummary, install } from "../../install/install.ts";
import { formatJoinSummary, joinNode, resolveJoin } from "../../join/join_node.ts";
import { printData } from "../../log/output.ts";
import { ReportedFailure } from "../../errors.ts";
import { addInstallFlags, installRequest } from "../install_flags.ts";

/** Registers `install`. */
export function registerInstall(program: Command): void {
  addInstallFlags(
    program.command("install")
      .description(
        "Install k0s and k0rdent on this host (idempotent: rerun to resume or apply changes)",
      ),
    "air-gap: bundle whose k0rdent version preflight checks (config airgap.bundlePath)",
  )
    .option("--join", "join an existing cluster (config join: section; see docs/multi-node.md)")
    .option("--mode <role>", "with --join: controller or worker")
    .option("--token-file <file>", "with --join: file holding a join token (k0s token create)")
    .option("--token <token>", "with --join: join token (prefer --token-file: argv is visible)")
    .option(
      "--registry-replica",
      "with --join --mode controller --airgap: also run a registry replica here that syncs from every --registry-address (config join.registryReplica)",
    )
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
  sudo k0rdentd -c worker-join.yaml install --join
  sudo k0rdentd -c controller-join.yaml install --join --registry-replica`,
    )
    .action(async (flags, cmd: Command) => {
      const request = await installRequest(
        cmd,
        flags,
        flags.registryReplica
          ? [{ path: ["join", "registryReplica"], value: true, flag: "--registry-replica" }]
          : [],
      );
      const join = await resolveJoin(flags, request.config);
      if (join) {
        const joined = await joinNode(request, join);
        printData(request.output, joined, () => formatJoinSummary(joined));
        failOnFindings(joined.preflightFindings.length);
        return;
      }
      const summary = await install(request);
      printData(request.output, summary, () => formatSummary(summary));
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

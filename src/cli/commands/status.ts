/** `k0rdentd status`: prints the install's health; exit code 0 only when healthy. */
import type { Command } from "commander";
import { ReportedFailure } from "../../errors.ts";
import { DEFAULT_TIMEOUTS, parseDuration } from "../../install/options.ts";
import { formatStatus, hostStatus } from "../../install/status.ts";
import { printData } from "../../log/output.ts";
import { commandContext } from "../context.ts";

/** Registers `status`. */
export function registerStatus(program: Command): void {
  program.command("status")
    .description("Show k0s, node, k0rdent and registry health (exit 1 when not healthy)")
    .option("--airgap", "also check the local registry (automatic after an air-gap install)")
    .option("--command-timeout <duration>", "limit for any one k0s command (default 30s)")
    .addHelpText(
      "after",
      `
Examples:
  sudo k0rdentd status
  sudo k0rdentd status --output json
  sudo k0rdentd status --airgap && echo healthy`,
    )
    .action(async (flags: { airgap?: boolean; commandTimeout?: string }, cmd: Command) => {
      const ctx = await commandContext(cmd);
      const status = await hostStatus({
        config: ctx.config,
        runner: ctx.runner,
        airgap: flags.airgap === true,
        commandTimeoutMs: flags.commandTimeout === undefined
          ? Math.min(DEFAULT_TIMEOUTS.commandMs, 30_000)
          : parseDuration("--command-timeout", flags.commandTimeout),
        signal: ctx.signal,
      });
      printData(ctx.output, status, () => formatStatus(status));
      // The summary already says why (text: "Not healthy: ...", JSON: problems); the exit code
      // tells scripts.
      if (!status.healthy) throw new ReportedFailure(`Not healthy: ${status.problems.join("; ")}`);
    });
}

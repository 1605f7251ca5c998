/** `k0rdentd uninstall`: flags to options and confirmations; the work is in `src/install/uninstall.ts`. */
import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import { HOST } from "../../host/paths.ts";
import { DEFAULT_TIMEOUTS, parseDuration } from "../../install/options.ts";
import { formatUninstall, uninstall } from "../../install/uninstall.ts";
import { printData } from "../../log/output.ts";
import { confirm } from "../confirm.ts";
import { commandContext } from "../context.ts";

/** Registers `uninstall`. */
export function registerUninstall(program: Command): void {
  program.command("uninstall")
    .description(`Stop and reset k0s and remove what install wrote; keeps ${HOST.k0rdentdEtc}`)
    .option("--force", "do not ask for confirmation")
    .option("--purge", "also delete the registry storage (asks separately)")
    .option("--command-timeout <duration>", "limit for any one k0s command (default 10m)")
    .addHelpText(
      "after",
      `
Examples:
  sudo k0rdentd uninstall --dry-run
  sudo k0rdentd uninstall
  sudo k0rdentd uninstall --force --purge`,
    )
    .action(
      async (
        flags: { force?: boolean; purge?: boolean; commandTimeout?: string },
        cmd: Command,
      ) => {
        const ctx = await commandContext(cmd);
        const commandTimeoutMs = flags.commandTimeout === undefined
          ? DEFAULT_TIMEOUTS.commandMs
          : parseDuration("--command-timeout", flags.commandTimeout);
        if (!ctx.dryRun && !flags.force) {
          if (!await confirm("This stops k0s and deletes the cluster on this host. Continue?")) {
            throw new UserError("Uninstall cancelled: nothing was changed");
          }
          if (
            flags.purge &&
            !await confirm(
              `--purge also deletes the registry storage "${ctx.config.registry.storage}". Continue?`,
            )
          ) {
            throw new UserError("Uninstall cancelled: nothing was changed");
          }
        }
        const summary = await uninstall({
          config: ctx.config,
          runner: ctx.runner,
          dryRun: ctx.dryRun,
          purge: flags.purge === true,
          commandTimeoutMs,
          signal: ctx.signal,
        });
        printData(ctx.output, summary, () => formatUninstall(summary));
      },
    );
}

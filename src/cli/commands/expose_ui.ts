/** `k0rdentd expose-ui`: exposes the k0rdent UI (NodePort + Ingress) and prints its URLs. */
import type { Command } from "commander";
import { UserError } from "../../errors.ts";
import { formatUi, installContext } from "../../install/install.ts";
import { installOptions } from "../../install/options.ts";
import { k0rdentUiPhase, uiAccess } from "../../install/phases/k0rdent_ui.ts";
import { runPhases } from "../../install/run_phases.ts";
import { formatPlan } from "../../host/mutator.ts";
import { printData } from "../../log/output.ts";
import { commandContext } from "../context.ts";

/** Registers `expose-ui`. */
export function registerExposeUi(program: Command): void {
  program.command("expose-ui")
    .description("Expose the k0rdent UI with a NodePort Service and an Ingress; print its URLs")
    .option("--show-password", "also print the UI password")
    .addHelpText(
      "after",
      `
Examples:
  sudo k0rdentd expose-ui
  sudo k0rdentd expose-ui --show-password --output json
  sudo k0rdentd expose-ui --dry-run          # print the planned changes only`,
    )
    .action(async (flags: { showPassword?: boolean }, cmd: Command) => {
      const ctx = await commandContext(cmd);
      const install = await installContext({
        config: ctx.config,
        options: installOptions({}, false),
        runner: ctx.runner,
        dryRun: ctx.dryRun,
        output: ctx.output,
        signal: ctx.signal,
      });
      await runPhases([k0rdentUiPhase], install, 'Run "k0rdentd expose-ui" again');
      if (ctx.dryRun) {
        const changes = install.host.changes;
        printData(ctx.output, { dryRun: true, changes }, () => formatPlan(changes));
        return;
      }
      const { releaseName, namespace } = ctx.config.k0rdent.helm;
      const ui = await uiAccess(
        install.kubectl,
        releaseName,
        namespace,
        flags.showPassword === true,
      );
      if (!ui) {
        throw new UserError(
          "The k0rdent UI is not exposed: is k0rdent installed with its UI? (see k0rdentd status)",
        );
      }
      printData(ctx.output, { ui }, () => formatUi(ui).join("\n"));
    });
}

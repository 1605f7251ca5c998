/** The root command `k0rdentd`: global flags and the list of subcommands. */
import { Command, Option } from "commander";
import { log, LOG_FORMATS } from "../log/logger.ts";
import { printOut } from "../log/output.ts";
import { HOST } from "../host/paths.ts";
import { registerBundle } from "./commands/bundle.ts";
import { registerCompletion } from "./commands/completion.ts";
import { registerConfig } from "./commands/config.ts";
import { registerRegistry } from "./commands/registry.ts";
import { registerExportJoinConfig } from "./commands/export_join_config.ts";
import { registerExposeUi } from "./commands/expose_ui.ts";
import { registerExportWorkerArtifacts } from "./commands/export_worker_artifacts.ts";
import { registerInstall } from "./commands/install.ts";
import { registerShowFlavor } from "./commands/show_flavor.ts";
import { registerStatus } from "./commands/status.ts";
import { registerUpgrade } from "./commands/upgrade.ts";
import { registerUninstall } from "./commands/uninstall.ts";
import { registerVersion } from "./commands/version.ts";

/** Subcommand registrations, in help order. */
const COMMANDS: ((program: Command) => void)[] = [
  registerVersion,
  registerShowFlavor,
  registerConfig,
  registerRegistry,
  registerBundle,
  registerExportJoinConfig,
  registerExportWorkerArtifacts,
  registerInstall,
  registerUpgrade,
  registerUninstall,
  registerStatus,
  registerExposeUi,
  registerCompletion,
];

/** Builds the program; settings given here are inherited by every subcommand. */
export function buildProgram(): Command {
  const program = new Command("k0rdentd")
    .description("Install k0s and k0rdent on this host, online or air-gapped")
    .addOption(
      new Option("-c, --config-file <path>", "config file (env K0RDENTD_CONFIG_FILE)")
        .default(undefined, HOST.configFile),
    )
    .addOption(
      new Option("--log-level <level>", "log level (env K0RDENTD_LOG_LEVEL)")
        .choices(["error", "warn", "info", "debug"]),
    )
    .addOption(
      new Option(
        "--log-format <format>",
        "log lines on stderr: text, or json (one object per line) (env K0RDENTD_LOG_FORMAT)",
      ).choices(LOG_FORMATS),
    )
    .option("--debug", "shorthand for --log-level debug")
    .option("-n, --dry-run", "print what would change and change nothing (env K0RDENTD_DRY_RUN)")
    .addOption(new Option("--output <format>", "output format").choices(["text", "json"]))
    .exitOverride()
    .showSuggestionAfterError(true)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => printOut(text),
      writeErr: (text) => log.raw(text.replace(/\n$/, "")),
      outputError: (text) => log.raw(text.replace(/\n$/, ""), "error"),
    })
    .addHelpText(
      "after",
      `
Global flags work before or after the subcommand.

Examples:
  k0rdentd version
  k0rdentd config show --output json
  k0rdentd -c ./k0rdentd.yaml config validate
  k0rdentd --log-format json install --dry-run`,
    );
  for (const register of COMMANDS) register(program);
  return program;
}

/** `k0rdentd config init|show|validate`. */
import type { Command } from "commander";
import { stringify } from "yaml";
import { checkConfig, defaultConfigFile, formatProblem } from "../../config/load.ts";
import { maskSecrets } from "../../config/mask.ts";
import { CONFIG_TEMPLATE } from "../../config/template.ts";
import { UserError } from "../../errors.ts";
import { writeFileAtomic } from "../../fsx/atomic_write.ts";
import { log } from "../../log/logger.ts";
import { printData } from "../../log/output.ts";
import { commandContext, globalOptions, isDryRun, outputFormat } from "../context.ts";
import { pathExists } from "../../fsx/exists.ts";
import { type AirgapSummary, airgapSummary, formatAirgapSummary } from "../../install/resolve.ts";

/** Registers `config` and its subcommands. */
export function registerConfig(program: Command): void {
  const config = program.command("config")
    .description("Create, show and check the configuration file")
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd config init\n  k0rdentd config show --output json\n  k0rdentd config validate -c ./k0rdentd.yaml",
    );

  config.command("init")
    .description("Write a commented default config file (mode 0600)")
    .option("-o, --out <path>", "where to write (default: the --config-file path)")
    .option("--force", "overwrite an existing file")
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd config init\n  k0rdentd config init -o ./k0rdentd.yaml --force",
    )
    .action(async (opts: { out?: string; force?: boolean }, cmd: Command) => {
      const globals = globalOptions(cmd);
      const target = opts.out ?? globals.configFile ??
        (Deno.env.get("K0RDENTD_CONFIG_FILE") || defaultConfigFile());
      if (!opts.force && await pathExists(target)) {
        throw new UserError(`Config file "${target}" already exists: use --force to overwrite it`);
      }
      if (isDryRun(cmd)) {
        log.info(`Dry run: would write the default config to "${target}" (mode 0600)`);
        return;
      }
      try {
        await writeFileAtomic(target, CONFIG_TEMPLATE, { mode: 0o600, mkdirMode: 0o755 });
      } catch (err) {
        throw new UserError(`Cannot write config file "${target}": ${(err as Error).message}`);
      }
      log.info(`Wrote default config to "${target}"`);
    });

  config.command("show")
    .description("Print the effective config (defaults < file < env < flags), secrets masked")
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd config show\n  k0rdentd -c ./k0rdentd.yaml config show --output json",
    )
    .action(async (_opts, cmd: Command) => {
      const ctx = await commandContext(cmd);
      const masked = maskSecrets(ctx.config);
      printData(ctx.output, masked, () => stringify(masked));
    });

  config.command("validate")
    .description("Check the config file; print every problem with its field path")
    .option(
      "--airgap",
      "also resolve what an air-gap install would use: addresses, CA, k0rdent version, k0s URL",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd config validate\n  k0rdentd -c ./k0rdentd.yaml config validate --output json\n  k0rdentd config validate --airgap   # asks the registry for the k0rdent version",
    )
    .action(async (opts: { airgap?: boolean }, cmd: Command) => {
      const format = outputFormat(cmd);
      const globals = globalOptions(cmd);
      const file = globals.configFile ?? (Deno.env.get("K0RDENTD_CONFIG_FILE") || undefined);
      const check = await checkConfig({ file });
      let airgap: AirgapSummary | undefined;
      if (opts.airgap && check.config && check.problems.length === 0) {
        try {
          airgap = await airgapSummary(check.config, { output: format });
        } catch (err) {
          if (!(err instanceof UserError)) throw err;
          check.problems.push({ path: "airgap", message: err.message });
        }
      }
      const valid = check.problems.length === 0;
      printData(
        format,
        {
          file: check.file ?? null,
          valid,
          problems: check.problems,
          ...(airgap ? { airgap } : {}),
        },
        () =>
          valid
            ? [
              `Config ${check.file ? `"${check.file}"` : "(defaults only)"} is valid`,
              ...(airgap ? formatAirgapSummary(airgap) : []),
            ].join("\n")
            : check.problems.map(formatProblem).join("\n"),
      );
      if (!valid) {
        throw new UserError(
          `Config ${check.file ? `"${check.file}" ` : ""}has ${check.problems.length} problem(s)`,
        );
      }
    });
}

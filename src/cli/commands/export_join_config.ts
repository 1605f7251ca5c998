/** `k0rdentd export-join-config`: join files with fresh tokens for new controllers and workers. */
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";
import { exportJoinConfig } from "../../join/export_join_config.ts";
import { DEFAULT_JOIN_CONFIG_DIR } from "../../join/join_config.ts";
import { detectNodeAddress } from "../../join/node_address.ts";
import { checkExpiry, DEFAULT_TOKEN_EXPIRY } from "../../join/token.ts";
import { formatPlan } from "../../host/mutator.ts";
import { log } from "../../log/logger.ts";
import { printData } from "../../log/output.ts";
import { commandContext } from "../context.ts";

interface Flags {
  out: string;
  controllerIp?: string;
  expiry: string;
  registryPort?: string;
  overwrite?: boolean;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new UsageError(`Invalid --registry-port "${value}": expected a port from 1 to 65535`);
  }
  return port;
}

/** Registers `export-join-config`. */
export function registerExportJoinConfig(program: Command): void {
  program.command("export-join-config")
    .description("Create join tokens and write controller-join.yaml and worker-join.yaml")
    .option("-o, --out <dir>", "output directory", DEFAULT_JOIN_CONFIG_DIR)
    .option(
      "--controller-ip <ip>",
      "address new nodes reach this controller at (default: first routable IPv4)",
    )
    .option("--expiry <duration>", "lifetime of the join tokens", DEFAULT_TOKEN_EXPIRY)
    .option(
      "--registry-port <port>",
      "air-gap: the registry on --controller-ip at this port (default: the cluster's registry address, airgap.registry.advertiseAddress)",
    )
    .option("--overwrite", "replace existing join files")
    .addHelpText(
      "after",
      `
Runs on a running controller. The files hold join tokens: the directory is 0700
and the files 0600. Use them on the new node with
  sudo k0rdentd -c worker-join.yaml install --join

Examples:
  sudo k0rdentd export-join-config
  sudo k0rdentd export-join-config -o /root/join --controller-ip 10.0.0.5 --expiry 2h
  sudo k0rdentd export-join-config --registry-port 5000 --overwrite
  sudo k0rdentd export-join-config --dry-run --output json   # the plan only`,
    )
    .action(async (flags: Flags, cmd: Command) => {
      checkExpiry(flags.expiry);
      if (flags.controllerIp !== undefined && !IPV4.test(flags.controllerIp)) {
        throw new UsageError(
          `Invalid --controller-ip "${flags.controllerIp}": expected an IPv4 address`,
        );
      }
      const registryPort = flags.registryPort === undefined
        ? undefined
        : parsePort(flags.registryPort);
      const ctx = await commandContext(cmd);
      const result = await exportJoinConfig(ctx, {
        dir: flags.out,
        controllerIp: flags.controllerIp ?? detectNodeAddress("--controller-ip"),
        expiry: flags.expiry,
        registryPort,
        overwrite: flags.overwrite ?? false,
      });
      if (ctx.dryRun) {
        log.info(
          `Dry run: would create a controller and a worker join token and write ${
            result.files.join(", ")
          } to "${result.dir}" (server ${result.server})`,
        );
        printData(ctx.output, { dryRun: true, ...result }, () => formatPlan(result.changes ?? []));
        return;
      }
      printData(ctx.output, result, () =>
        [
          `Wrote ${result.files.join(", ")} to "${result.dir}" (server ${result.server}${
            result.registry ? `, registry ${result.registry}` : ""
          }); the tokens expire in ${flags.expiry}`,
          `Next: on the new node run "sudo k0rdentd -c worker-join.yaml install --join"`,
        ].join("\n"));
    });
}

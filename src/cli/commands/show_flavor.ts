/** `k0rdentd show-flavor`: online or air-gap build, and what is embedded. */
import type { Command } from "commander";
import { readBuildInfo } from "../../assets/build_info.ts";
import { printData } from "../../log/output.ts";
import { outputFormat } from "../context.ts";

/** Registers `show-flavor`. */
export function registerShowFlavor(program: Command): void {
  program.command("show-flavor")
    .description("Print whether this is the online or the air-gap build")
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd show-flavor\n  k0rdentd show-flavor --output json",
    )
    .action(async (_opts, cmd: Command) => {
      const format = outputFormat(cmd);
      const info = await readBuildInfo();
      const data = {
        flavor: info.flavor,
        version: info.version,
        k0sVersion: info.k0sVersion,
        helmVersion: info.helmVersion,
        assets: info.assets.map(({ name, version, size, sha256 }) => ({
          name,
          version,
          size,
          sha256,
        })),
      };
      printData(format, data, () => {
        const lines = [`Flavor: ${info.flavor}`];
        if (info.flavor === "airgap") {
          lines.push("Embedded:");
          for (const a of info.assets) {
            lines.push(`  ${a.name} ${a.version} (${a.size} bytes, sha256:${a.sha256})`);
          }
        } else {
          lines.push("k0s and k0rdent are downloaded during install");
        }
        return lines.join("\n");
      });
    });
}

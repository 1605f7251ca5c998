/** `k0rdentd version`: the build's versions, flavor and embedded asset digests. */
import type { Command } from "commander";
import { readBuildInfo } from "../../assets/build_info.ts";
import { printData } from "../../log/output.ts";
import { outputFormat } from "../context.ts";

/** Registers `version`. */
export function registerVersion(program: Command): void {
  program.command("version")
    .description("Print the k0rdentd version, flavor, bundled tool versions and asset digests")
    .addHelpText("after", "\nExamples:\n  k0rdentd version\n  k0rdentd version --output json")
    .action(async (_opts, cmd: Command) => {
      const format = outputFormat(cmd);
      const info = await readBuildInfo();
      const data = { ...info, deno: Deno.version.deno, os: Deno.build.os, arch: Deno.build.arch };
      printData(format, data, () =>
        [
          `k0rdentd ${info.version} (${info.flavor})`,
          ...(info.k0sVersion ? [`k0s:        ${info.k0sVersion}`] : []),
          ...(info.helmVersion ? [`helm:       ${info.helmVersion}`] : []),
          ...(info.buildTime ? [`built:      ${info.buildTime}`] : []),
          `deno:       ${Deno.version.deno}`,
          `platform:   ${Deno.build.os}/${Deno.build.arch}`,
          ...info.assets.map((a) => `asset:      ${a.name} ${a.version} sha256:${a.sha256}`),
        ].join("\n"));
    });
}

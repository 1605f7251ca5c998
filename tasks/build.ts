/**
 * `deno task build`: the online executable `dist/k0rdentd-linux-<arch>`
 * (k0s and k0rdent are downloaded at install time). Embeds only the build
 * metadata (flavor online, version, build time, target).
 */
import { Command } from "commander";
import { ProcessRunner, type Runner } from "../src/process/runner.ts";
import { buildFlavor, PROJECT_ROOT } from "./build_flavor.ts";
import { runTask, targetOption, taskProgram } from "./run_task.ts";
import { parseTarget } from "./targets.ts";

/** What the task uses from its surroundings; tests pass a fake runner and a temp root. */
export interface BuildDeps {
  runner?: Runner;
  root?: string;
  env?: (name: string) => string | undefined;
  now?: () => Date;
}

/** The `build` task program. */
export function buildProgram(signal?: AbortSignal, deps: BuildDeps = {}): Command {
  return taskProgram(new Command("build"))
    .description("Compile the online executable dist/k0rdentd-linux-<arch>")
    .addOption(targetOption())
    .option("--out-dir <dir>", "output directory", "dist")
    .addHelpText(
      "after",
      `
The compile base (denort) comes from DENORT_BIN when set, else from Deno's
download cache, else deno compile downloads it.

Examples:
  deno task build
  deno task build --target aarch64-unknown-linux-gnu
  DENORT_BIN=/opt/denort deno task build`,
    )
    .action(async (opts: { target?: string; outDir: string }) => {
      await buildFlavor({
        flavor: "online",
        target: parseTarget(opts.target),
        root: deps.root ?? PROJECT_ROOT,
        tools: [],
        compression: "gzip",
        runner: deps.runner ?? new ProcessRunner(),
        compile: true,
        outDir: opts.outDir,
        env: deps.env,
        signal,
        now: deps.now,
      });
    });
}

if (import.meta.main) await runTask(buildProgram, Deno.args);

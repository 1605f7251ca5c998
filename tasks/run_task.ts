/** Runs a build task's commander program: exit codes as the CLI's, SIGINT/SIGTERM abort the build. */
import { type Command, Option } from "commander";
import { exitCodeOf } from "../src/cli/main.ts";
import { CancelledError } from "../src/errors.ts";
import { log } from "../src/log/logger.ts";
import { printOut } from "../src/log/output.ts";
import { TARGETS } from "./targets.ts";

/** The `--target` option shared by the build tasks. */
export function targetOption(): Option {
  return new Option("--target <triple>", "target to build for (default: this machine's)")
    .choices(TARGETS.map((t) => t.triple));
}

/** Settings every task program shares: errors and help through the logger, no process exit. */
export function taskProgram(program: Command): Command {
  return program
    .option("--debug", "debug logging")
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => printOut(text),
      writeErr: (text) => log.raw(text.replace(/\n$/, "")),
      outputError: (text, write) => write(text),
    })
    .hook("preAction", (cmd) => {
      if (cmd.opts().debug) log.configure({ level: "debug" });
    });
}

/** Parses `args`, runs the action with an abort signal and exits with the CLI's exit codes. */
export async function runTask(
  program: (signal: AbortSignal) => Command,
  args: string[],
): Promise<never> {
  const controller = new AbortController();
  const abort = () => controller.abort(new CancelledError("Interrupted"));
  Deno.addSignalListener("SIGINT", abort);
  Deno.addSignalListener("SIGTERM", abort);
  let code = 0;
  try {
    await program(controller.signal).parseAsync(args, { from: "user" });
  } catch (err) {
    code = exitCodeOf(err);
  }
  Deno.exit(code);
}

/**
 * CLI entry: parses argv, runs the command and maps failures to exit codes
 * (usage 2, expected failure 1, unexpected 70, interrupted 130). The first
 * SIGINT/SIGTERM aborts the running command; a second SIGINT exits at once.
 */
import { CommanderError } from "commander";
import { CancelledError, ExitCode, ReportedFailure, UsageError, UserError } from "../errors.ts";
import { log } from "../log/logger.ts";
import { configureLogging, earlyLogFormat, setProcessSignal } from "./context.ts";
import { buildProgram } from "./program.ts";

/** Maps a failure to its exit code and reports it on the log. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") {
      return ExitCode.ok;
    }
    return ExitCode.usage;
  }
  if (err instanceof UsageError) {
    log.error(err.message);
    log.raw("(run with --help for usage)");
    return ExitCode.usage;
  }
  if (err instanceof CancelledError || (err instanceof DOMException && err.name === "AbortError")) {
    // A CancelledError may say what stopped and how to go on ("... rerun to resume").
    log.error(
      err instanceof CancelledError && err.message !== "Cancelled" ? err.message : "Interrupted",
    );
    return ExitCode.interrupted;
  }
  if (err instanceof ReportedFailure) {
    log.debug(err.message);
    return ExitCode.failure;
  }
  if (err instanceof UserError) {
    log.error(err.message);
    if (err.cause) log.debug(`Caused by: ${String((err.cause as Error).stack ?? err.cause)}`);
    return ExitCode.failure;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  log.error(`Unexpected error: ${e.message}`);
  if (log.enabled("debug")) log.debug(e.stack ?? "");
  else log.raw("(run with --debug for the stack trace)");
  return ExitCode.unexpected;
}

/** A signal this close after the first is the same Ctrl-C delivered twice (see {@link countSignals}). */
const SAME_SIGNAL_MS = 100;

/**
 * Counts the stop signals: "first", then "again" for each later one. `deno task` hands the
 * terminal's Ctrl-C on to the program, which also gets it from the terminal, so one press
 * arrives twice within milliseconds: a signal within {@link SAME_SIGNAL_MS} of the first is
 * "same", and counts for nothing.
 */
export function countSignals(now: () => number = Date.now): () => "first" | "again" | "same" {
  let firstAt: number | undefined;
  return () => {
    const t = now();
    if (firstAt === undefined) {
      firstAt = t;
      return "first";
    }
    return t - firstAt < SAME_SIGNAL_MS ? "same" : "again";
  };
}

/** Runs the CLI with `args` and returns the exit code. */
export async function runCli(args: string[]): Promise<number> {
  const controller = new AbortController();
  setProcessSignal(controller.signal);
  const count = countSignals();
  const onSignal = (name: string) => () => {
    const seen = count();
    if (seen === "same") return;
    if (seen === "again" && name === "SIGINT") Deno.exit(ExitCode.interrupted);
    log.warn(`Received ${name}: stopping (press Ctrl-C again to exit now)`);
    controller.abort(new CancelledError(`Interrupted by ${name}`));
  };
  const handlers = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
  for (const [sig, handler] of handlers) Deno.addSignalListener(sig, handler);
  log.configure({ format: earlyLogFormat(args) ?? "text" });
  const program = buildProgram();
  program.hook("preAction", (_root, action) => configureLogging(action));
  try {
    // `deno task k0rdentd -- install` hands the `--` on: one leading `--` means nothing here.
    await program.parseAsync(args[0] === "--" ? args.slice(1) : args, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    return exitCodeOf(err);
  } finally {
    for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
  }
}

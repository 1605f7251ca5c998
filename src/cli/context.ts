/**
 * Turns global flags into what every command needs: the effective config,
 * the logger set up, the output format, dry-run, the process runner and the
 * cancellation signal. Commands call {@link commandContext} first.
 */
import type { Command } from "commander";
import { loadConfig, type Override } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../errors.ts";
import { log, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from "../log/logger.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "../log/output.ts";
import { ProcessRunner, type Runner } from "../process/runner.ts";
import { parseBoolean } from "../config/boolean.ts";

/** The global options, as commander parses them. */
export interface GlobalOptions {
  configFile?: string;
  logLevel?: string;
  logFormat?: string;
  debug?: boolean;
  dryRun?: boolean;
  output?: string;
}

/** What a command runs with. */
export interface CommandContext {
  config: Config;
  /** The config file that was read, if any. */
  configFile?: string;
  output: OutputFormat;
  dryRun: boolean;
  runner: Runner;
  /** Aborted on the first SIGINT/SIGTERM. */
  signal: AbortSignal;
}

let processSignal: AbortSignal = new AbortController().signal;
let processRunner: Runner = new ProcessRunner();

/** Sets the signal commands see (the CLI entry point owns it). */
export function setProcessSignal(signal: AbortSignal): void {
  processSignal = signal;
}

/** Replaces the process runner (for in-process tests). */
export function setProcessRunner(runner: Runner): void {
  processRunner = runner;
}

function envFlag(name: string): boolean | undefined {
  const v = Deno.env.get(name);
  if (v === undefined || v === "") return undefined;
  const parsed = parseBoolean(v);
  if (parsed !== undefined) return parsed;
  // An unknown value must not mean "no": K0RDENTD_DRY_RUN=maybe would then change the host.
  throw new UsageError(`Invalid ${name} "${v}": expected 1, true, yes, on or 0, false, no, off`);
}

/** True when `--dry-run` or `K0RDENTD_DRY_RUN` asks for a plan only. */
export function isDryRun(cmd: Command): boolean {
  return globalOptions(cmd).dryRun ?? envFlag("K0RDENTD_DRY_RUN") ?? false;
}

/** Global options of `cmd` (set before or after the subcommand). */
export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** The output format from `--output`, checked. */
export function outputFormat(cmd: Command): OutputFormat {
  const value = globalOptions(cmd).output ?? "text";
  if (!(OUTPUT_FORMATS as readonly string[]).includes(value)) {
    throw new UsageError(
      `Invalid --output "${value}": expected one of ${OUTPUT_FORMATS.join(", ")}`,
    );
  }
  return value as OutputFormat;
}

/** Sets the log level and format from flags and env before the config is read. */
export function configureLogging(cmd: Command): void {
  const level = requestedLogLevel(cmd) ?? Deno.env.get("K0RDENTD_LOG_LEVEL");
  if (level && (LOG_LEVELS as readonly string[]).includes(level)) {
    log.configure({ level: level as LogLevel });
  }
  log.configure({
    format: checkedLogFormat(globalOptions(cmd).logFormat, "--log-format") ?? envLogFormat() ??
      "text",
  });
}

function checkedLogFormat(value: string | undefined, source: string): LogFormat | undefined {
  if (value === undefined || value === "") return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new UsageError(`Invalid ${source} "${value}": expected one of ${LOG_FORMATS.join(", ")}`);
}

function envLogFormat(): LogFormat | undefined {
  return checkedLogFormat(Deno.env.get("K0RDENTD_LOG_FORMAT"), "K0RDENTD_LOG_FORMAT");
}

/**
 * The log format named by `--log-format` in raw `args` or by the env, read before commander
 * parses, so that its own errors (unknown flag or command) are JSON lines too. Bad values are
 * left for {@link configureLogging} to report.
 */
export function earlyLogFormat(args: readonly string[]): LogFormat | undefined {
  let value: string | undefined;
  for (let i = 0; i < args.length && args[i] !== "--"; i++) {
    if (args[i] === "--log-format") value = args[i + 1];
    else if (args[i].startsWith("--log-format=")) value = args[i].slice("--log-format=".length);
  }
  value ??= Deno.env.get("K0RDENTD_LOG_FORMAT");
  return (LOG_FORMATS as readonly string[]).includes(value ?? "") ? value as LogFormat : undefined;
}

function requestedLogLevel(cmd: Command): string | undefined {
  const opts = globalOptions(cmd);
  if (opts.debug) return "debug";
  if (opts.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
    throw new UsageError(
      `Invalid --log-level "${opts.logLevel}": expected one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  return opts.logLevel;
}

/** Loads config (defaults < file < env < flags) and configures logging. */
export async function commandContext(
  cmd: Command,
  overrides: readonly Override[] = [],
): Promise<CommandContext> {
  const opts = globalOptions(cmd);
  const output = outputFormat(cmd);
  configureLogging(cmd);
  const flagLevel = requestedLogLevel(cmd);
  const levelOverride: Override[] = flagLevel
    ? [{ path: ["logLevel"], value: flagLevel, flag: opts.debug ? "--debug" : "--log-level" }]
    : [];
  if (opts.logFormat !== undefined) {
    levelOverride.push({ path: ["logFormat"], value: opts.logFormat, flag: "--log-format" });
  }
  const file = opts.configFile ?? (Deno.env.get("K0RDENTD_CONFIG_FILE") || undefined);
  const { config, file: read } = await loadConfig({
    file,
    overrides: [...overrides, ...levelOverride],
  });
  log.configure({ level: config.logLevel, format: config.logFormat });
  log.debug(read ? `Using config file "${read}"` : "No config file; using defaults");
  return {
    config,
    configFile: read,
    output,
    dryRun: isDryRun(cmd),
    runner: processRunner,
    signal: processSignal,
  };
}

/** Builds overrides from flags: only flags the user set become overrides. */
export function flagOverrides(
  cmd: Command,
  table: Record<string, { path: readonly string[]; flag: string }>,
): Override[] {
  const opts = cmd.opts() as Record<string, unknown>;
  const out: Override[] = [];
  for (const [key, { path, flag }] of Object.entries(table)) {
    if (cmd.getOptionValueSource(key) === "cli" && opts[key] !== undefined) {
      out.push({ path, value: opts[key], flag });
    }
  }
  return out;
}

/** The one logger: levelled lines on stderr, colour only on a TTY without NO_COLOR, timestamps at debug. */

import { writeAllSync } from "./write_all.ts";

/** Log levels from least to most verbose. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Where log lines go; tests swap it for a collector. */
export interface LogSink {
  write(line: string): void;
  isTerminal(): boolean;
}

const encoder = new TextEncoder();

/** Writes lines to the process's stderr. */
export const stderrSink: LogSink = {
  write(line) {
    writeAllSync(Deno.stderr, encoder.encode(line + "\n"));
  },
  isTerminal() {
    return Deno.stderr.isTerminal();
  },
};

const COLOURS: Record<LogLevel, string> = {
  error: "\x1b[31m",
  warn: "\x1b[33m",
  info: "\x1b[36m",
  debug: "\x1b[90m",
};

/** Settings of the logger; every field optional when configuring. */
export interface LoggerOptions {
  level: LogLevel;
  sink: LogSink;
  /** Force colour on or off; default: TTY and no NO_COLOR. */
  colour?: boolean;
}

/** A levelled logger. Secrets must never be passed to it. */
export class Logger {
  #level: LogLevel = "info";
  #sink: LogSink = stderrSink;
  #colour?: boolean;

  /** Changes level, sink or colour. */
  configure(options: Partial<LoggerOptions>): void {
    if (options.level) this.#level = options.level;
    if (options.sink) this.#sink = options.sink;
    if ("colour" in options) this.#colour = options.colour;
  }

  /** The current level. */
  get level(): LogLevel {
    return this.#level;
  }

  /** True when lines of this level are printed. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.#level);
  }

  error(message: string): void {
    this.#log("error", message);
  }
  warn(message: string): void {
    this.#log("warn", message);
  }
  info(message: string): void {
    this.#log("info", message);
  }
  debug(message: string): void {
    this.#log("debug", message);
  }

  /** Writes a raw line to the log stream (used by the progress renderer). */
  raw(line: string): void {
    this.#sink.write(line);
  }

  /** True when the log stream is an interactive terminal. */
  isTerminal(): boolean {
    return this.#sink.isTerminal();
  }

  /** True when colour escapes may be written. */
  colourOn(): boolean {
    if (this.#colour !== undefined) return this.#colour;
    return this.#sink.isTerminal() && !Deno.env.get("NO_COLOR");
  }

  #log(level: LogLevel, message: string): void {
    if (!this.enabled(level)) return;
    const stamp = this.#level === "debug" ? new Date().toISOString() + " " : "";
    const tag = level.toUpperCase().padEnd(5);
    const label = this.colourOn() ? `${COLOURS[level]}${tag}\x1b[0m` : tag;
    this.#sink.write(`${stamp}${label} ${message}`);
  }
}

/** The process-wide logger, configured by the CLI from flags, env and config. */
export const log: Logger = new Logger();

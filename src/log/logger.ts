/**
 * The one logger: levelled lines on stderr. Text: colour only on a TTY without NO_COLOR,
 * timestamps at debug. JSON (`--log-format json`): one object per line with `level`, `time`, `msg`
 * and the line's fields, for journald and log shippers.
 */

import { OrderedWriter } from "./ordered_writer.ts";

/** Log levels from least to most verbose. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Formats accepted by `--log-format`. */
export const LOG_FORMATS = ["text", "json"] as const;
/** One of {@link LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** Extra key/value data of one log line (JSON: top-level keys; text: ` key=value` after the message). */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where log lines go; tests swap it for a collector. */
export interface LogSink {
  /** Writes `line` and a newline. */
  write(line: string): void;
  isTerminal(): boolean;
  /** Writes `text` as it is, without a newline (the status line of a terminal). */
  writeText?(text: string): void;
  /**
   * Writes `text` and a newline in the background, after every line before it; lines written
   * meanwhile follow it. Resolves once written (the access log's batches).
   */
  writeLater?(text: string): Promise<void>;
  /** Lines dropped because the stream did not take them in time. */
  dropped?(): number;
  /** The terminal's width in columns, when it is a terminal. */
  columns?(): number | undefined;
}

const encoder = new TextEncoder();
const stderr = new OrderedWriter(Deno.stderr);

/** Writes lines to the process's stderr, in order (see {@link OrderedWriter}). */
export const stderrSink: LogSink = {
  write(line) {
    stderr.writeSync(encoder.encode(line + "\n"));
  },
  writeText(text) {
    stderr.writeSync(encoder.encode(text));
  },
  writeLater(text) {
    return stderr.write(text);
  },
  dropped() {
    return stderr.dropped;
  },
  isTerminal() {
    return Deno.stderr.isTerminal();
  },
  columns() {
    try {
      return Deno.consoleSize().columns || undefined;
    } catch {
      return undefined; // no terminal on stdin, stdout or stderr
    }
  },
};

/** Carriage return and "erase line": the cursor goes to the start of an empty line. */
const CLEAR_LINE = "\r\x1b[2K";

const COLOURS: Record<LogLevel, string> = {
  error: "\x1b[31m",
  warn: "\x1b[33m",
  info: "\x1b[36m",
  debug: "\x1b[90m",
};

/** Settings of the logger; every field optional when configuring. */
export interface LoggerOptions {
  level: LogLevel;
  format: LogFormat;
  sink: LogSink;
  /** Force colour on or off; default: TTY and no NO_COLOR. */
  colour?: boolean;
}

/** A levelled logger. Secrets must never be passed to it. */
export class Logger {
  #level: LogLevel = "info";
  #format: LogFormat = "text";
  #sink: LogSink = stderrSink;
  #colour?: boolean;
  /** The status line shown below the log lines (a terminal's progress bar), if any. */
  #status?: string;

  /** Changes level, format, sink or colour. */
  configure(options: Partial<LoggerOptions>): void {
    if (options.level) this.#level = options.level;
    if (options.format) this.#format = options.format;
    if (options.sink) {
      this.#sink = options.sink;
      this.#status = undefined;
    }
    if ("colour" in options) this.#colour = options.colour;
  }

  /** The current level. */
  get level(): LogLevel {
    return this.#level;
  }

  /** The current format. */
  get format(): LogFormat {
    return this.#format;
  }

  /** True when lines of this level are printed. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.#level);
  }

  error(message: string, fields?: LogFields): void {
    this.#log("error", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#log("warn", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#log("info", message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.#log("debug", message, fields);
  }

  /**
   * Writes a line as it is (TTY progress, usage hints, prompts); in JSON format it becomes
   * the `msg` of a line of `level` (default info), so every line stays one JSON object.
   */
  raw(line: string, level: LogLevel = "info"): void {
    if (this.#format === "json") this.#write(this.#json(level, line));
    else this.#write(line);
  }

  /** Writes one JSON object as a line in either format (the progress events of `--output json`). */
  event(record: Record<string, unknown>): void {
    this.#write(JSON.stringify(record));
  }

  /**
   * Shows `line` as the status line of a terminal, in place of the previous one: the cursor stays
   * at its end, and every line logged meanwhile is written above it (the status line is erased,
   * the line written, the status line drawn again). `undefined` erases it. Each draw is one write,
   * so the line does not flicker; the caller keeps it shorter than {@link columns} (a wrapped line
   * could not be redrawn in place). Needs a sink with `writeText`; otherwise nothing is shown.
   */
  status(line: string | undefined): void {
    if (!this.#sink.writeText || (line === undefined && this.#status === undefined)) return;
    this.#status = line;
    this.#sink.writeText(CLEAR_LINE + (line ?? ""));
  }

  /** The terminal's width in columns (80 when the sink cannot tell). */
  columns(): number {
    return this.#sink.columns?.() ?? 80;
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

  #formatLine(level: LogLevel, message: string, fields?: LogFields): string {
    if (this.#format === "json") return this.#json(level, message, fields);
    const stamp = this.#level === "debug" ? new Date().toISOString() + " " : "";
    const tag = level.toUpperCase().padEnd(5);
    const label = this.colourOn() ? `${COLOURS[level]}${tag}\x1b[0m` : tag;
    return `${stamp}${label} ${message}${textFields(fields)}`;
  }

  /**
   * Writes lines already formatted (`text`, the registry's access log batches: lines joined by
   * newlines) in one write, whatever the level: in the background when the sink can, else at once.
   * Resolves once written.
   */
  writeLines(text: string): Promise<void> {
    if (this.#sink.writeLater && this.#status === undefined) return this.#sink.writeLater(text);
    this.#write(text);
    return Promise.resolve();
  }

  /** Lines of this logger's sink dropped because the stream did not take them in time. */
  droppedLines(): number {
    return this.#sink.dropped?.() ?? 0;
  }

  #log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.#write(this.#formatLine(level, message, fields));
  }

  /** Writes a line, above the status line when one is shown. */
  #write(line: string): void {
    if (this.#status === undefined || !this.#sink.writeText) return this.#sink.write(line);
    this.#sink.writeText(`${CLEAR_LINE}${line}\n${this.#status}`);
  }

  #json(level: LogLevel, message: string, fields?: LogFields): string {
    const record: Record<string, unknown> = { level, time: new Date().toISOString(), msg: message };
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (!(key in record)) record[key] = value; // a field never overwrites level, time or msg
    }
    return JSON.stringify(record);
  }
}

/**
 * What a text field holds bare; anything else (spaces, quotes, `=`, control characters a client
 * could send to a terminal) is JSON-quoted.
 */
// deno-lint-ignore no-control-regex
const BARE_TEXT = /^[^\s"=\u0000-\u001f\u007f]+$/;

/** A text field's value as the text format writes it. */
export function textValue(value: string): string {
  return BARE_TEXT.test(value) ? value : JSON.stringify(value);
}

function textFields(fields?: LogFields): string {
  if (!fields) return "";
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    out += ` ${key}=${textValue(text)}`;
  }
  return out;
}

/** The process-wide logger, configured by the CLI from flags, env and config. */
export const log: Logger = new Logger();

/**
 * Progress for long work. Three renderings of the same events:
 * a redrawn bar on a TTY (done/total bytes, rate, ETA), a plain line every few
 * seconds off a TTY, and one JSON object per line with `--output json` or `--log-format json`
 * (with the log lines' `level`, `time` and `msg` keys besides the numbers).
 * All of it goes to the log stream (stderr), never to stdout.
 */
import { log, type Logger } from "./logger.ts";
import type { OutputFormat } from "./output.ts";

/** How progress is shown. */
export type ProgressMode = "tty" | "lines" | "json" | "silent";

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Short name of the work, e.g. "Loading bundle". */
  label: string;
  /** Total units (bytes unless `unit` says otherwise); 0 when unknown. */
  total: number;
  unit?: "bytes" | "items";
  mode?: ProgressMode;
  /** Milliseconds between plain lines off a TTY. */
  lineIntervalMs?: number;
  logger?: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

/** Picks the rendering from the output format and the log stream (its level and format). */
export function progressMode(output: OutputFormat, logger: Logger = log): ProgressMode {
  if (output === "json") return "json";
  if (!logger.enabled("info")) return "silent";
  if (logger.format === "json") return "json";
  return logger.isTerminal() ? "tty" : "lines";
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Formats a byte count with binary units, e.g. `1.5 GiB`. */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** Formats seconds as `1h02m03s`, `2m05s` or `7s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m${String(rest).padStart(2, "0")}s`;
  if (m) return `${m}m${String(rest).padStart(2, "0")}s`;
  return `${rest}s`;
}

/** A progress reporter: call {@link advance} or {@link set}, then {@link done}. */
export class Progress {
  readonly #opts: Required<Omit<ProgressOptions, "logger" | "now">>;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #start: number;
  #done = 0;
  #items?: { done: number; total: number };
  #lastDraw = 0;
  #lastLine: number;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.#logger = options.logger ?? log;
    this.#now = options.now ?? Date.now;
    this.#opts = {
      label: options.label,
      total: options.total,
      unit: options.unit ?? "bytes",
      mode: options.mode ?? "lines",
      lineIntervalMs: options.lineIntervalMs ?? 5000,
    };
    this.#start = this.#now();
    this.#lastLine = this.#start;
    this.#emit("start");
  }

  /** Units done so far. */
  get completed(): number {
    return this.#done;
  }

  /** Adds `n` units. */
  advance(n: number): void {
    this.set(this.#done + n);
  }

  /** Sets the units done, and optionally a count of finished items (images, phases). */
  set(done: number, items?: { done: number; total: number }): void {
    this.#done = done;
    if (items) this.#items = items;
    this.#tick();
  }

  /** Changes the total when it becomes known. */
  setTotal(total: number): void {
    this.#opts.total = total;
  }

  /** Ends the progress with a final line or event. */
  done(message?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const { mode } = this.#opts;
    if (mode === "tty") this.#logger.raw(`\r\x1b[2K${this.#line()}`);
    if (mode === "json") this.#emit("done", message);
    else if (mode !== "silent" && message) this.#logger.info(message);
  }

  #tick(): void {
    const now = this.#now();
    const { mode, lineIntervalMs } = this.#opts;
    if (mode === "tty" && now - this.#lastDraw >= 100) {
      this.#lastDraw = now;
      this.#logger.raw(`\r\x1b[2K${this.#line()}\x1b[1A`);
    } else if ((mode === "lines" || mode === "json") && now - this.#lastLine >= lineIntervalMs) {
      this.#lastLine = now;
      if (mode === "lines") this.#logger.info(this.#line());
      else this.#emit("progress");
    }
  }

  #stats() {
    const elapsed = (this.#now() - this.#start) / 1000;
    const rate = elapsed > 0 ? this.#done / elapsed : 0;
    const { total } = this.#opts;
    const eta = total > 0 && rate > 0 ? (total - this.#done) / rate : Infinity;
    return { elapsed, rate, eta };
  }

  #line(): string {
    const { label, total, unit, mode } = this.#opts;
    const { rate, eta } = this.#stats();
    const fmt = unit === "bytes" ? formatBytes : String;
    const pct = total > 0 ? Math.min(100, (this.#done / total) * 100) : 0;
    let bar = "";
    if (mode === "tty" && total > 0) {
      const width = 24;
      const full = Math.round((pct / 100) * width);
      bar = `[${"#".repeat(full)}${"-".repeat(width - full)}] `;
    }
    const amount = total > 0
      ? `${fmt(this.#done)} / ${fmt(total)} (${pct.toFixed(1)}%)`
      : fmt(this.#done);
    const speed = unit === "bytes" ? `, ${formatBytes(rate)}/s` : "";
    const items = this.#items ? `, ${this.#items.done}/${this.#items.total} done` : "";
    const etaText = total > 0 && !this.#finished ? `, ETA ${formatDuration(eta)}` : "";
    return `${label}: ${bar}${amount}${speed}${items}${etaText}`;
  }

  #emit(event: "start" | "progress" | "done", message?: string): void {
    if (this.#opts.mode !== "json") return;
    const { rate, eta, elapsed } = this.#stats();
    this.#logger.event({
      level: "info",
      time: new Date(this.#now()).toISOString(),
      msg: message ?? this.#line(),
      event,
      label: this.#opts.label,
      unit: this.#opts.unit,
      done: this.#done,
      total: this.#opts.total,
      ...(this.#items ? { itemsDone: this.#items.done, itemsTotal: this.#items.total } : {}),
      elapsedSeconds: Math.round(elapsed * 10) / 10,
      rate: Math.round(rate),
      ...(Number.isFinite(eta) ? { etaSeconds: Math.round(eta) } : {}),
      ...(message ? { message } : {}),
    });
  }
}

/**
 * Progress for long work. Three renderings of the same events:
 * a bar on a TTY (done/total bytes, rate, ETA) redrawn in place as the logger's status line (log
 * lines go above it; it fits the terminal's width and is erased when the work ends), a plain line
 * every few seconds off a TTY, and one JSON object per line with `--output json` or
 * `--log-format json` (with the log lines' `level`, `time` and `msg` keys besides the numbers).
 * All of it goes to the log stream (stderr), never to stdout. Rate and ETA come from the last
 * {@link RATE_WINDOW_MS} of progress, so a slow start or a stretch of skipped data fades out.
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
  /**
   * What the finished items are, e.g. "archives": `archives 3/10`, or `archives 3` while their
   * total is unknown (0). Without it: `3/10 done`.
   */
  itemsLabel?: string;
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

/** Milliseconds of recent progress the rate and the ETA are measured over. */
export const RATE_WINDOW_MS = 10_000;
/** No ETA before this much time has passed: the first chunks say little about the rate. */
const ETA_AFTER_MS = 1000;
/** A terminal's bar is redrawn at most this often. */
const REDRAW_MS = 200;
/** Width of a terminal's bar between its brackets, at most and at least (else it is left out). */
const BAR_WIDTH = { max: 24, min: 10 };

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
  readonly #opts: Required<Omit<ProgressOptions, "logger" | "now" | "itemsLabel">> & {
    itemsLabel?: string;
  };
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #start: number;
  #done = 0;
  #items?: { done: number; total: number };
  /** (time, done) at least half a second apart; the first is the newest one a window old. */
  readonly #samples: { t: number; done: number }[];
  #lastDraw = -Infinity;
  #lastLine: number;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.#logger = options.logger ?? log;
    this.#now = options.now ?? Date.now;
    this.#opts = {
      label: options.label,
      total: options.total,
      unit: options.unit ?? "bytes",
      itemsLabel: options.itemsLabel,
      mode: options.mode ?? "lines",
      lineIntervalMs: options.lineIntervalMs ?? 5000,
    };
    this.#start = this.#now();
    this.#samples = [{ t: this.#start, done: 0 }];
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

  /** Sets the units done, and optionally a count of finished items (images, archives). */
  set(done: number, items?: { done: number; total: number }): void {
    this.#done = done;
    if (items) this.#items = items;
    const now = this.#now();
    this.#sample(now);
    this.#tick(now);
  }

  /** Changes the total when it becomes known. */
  setTotal(total: number): void {
    this.#opts.total = total;
  }

  /**
   * Ends the progress: a terminal's bar is erased, and `message` (the summary) is logged, or
   * becomes the `done` event's `msg` with JSON.
   */
  done(message?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const { mode } = this.#opts;
    if (mode === "tty") this.#logger.status(undefined);
    if (mode === "json") this.#emit("done", message);
    else if (mode !== "silent" && message) this.#logger.info(message);
  }

  #sample(now: number): void {
    const samples = this.#samples;
    if (now - samples[samples.length - 1].t >= 500) samples.push({ t: now, done: this.#done });
    while (samples.length > 2 && now - samples[1].t >= RATE_WINDOW_MS) samples.shift();
  }

  #tick(now: number): void {
    const { mode, lineIntervalMs } = this.#opts;
    if (mode === "tty" && now - this.#lastDraw >= REDRAW_MS) {
      this.#lastDraw = now;
      this.#logger.status(this.line(this.#logger.columns()));
    } else if ((mode === "lines" || mode === "json") && now - this.#lastLine >= lineIntervalMs) {
      this.#lastLine = now;
      if (mode === "lines") this.#logger.info(this.line());
      else this.#emit("progress");
    }
  }

  #stats() {
    const now = this.#now();
    const elapsed = (now - this.#start) / 1000;
    const from = this.#samples[0];
    const span = (now - from.t) / 1000;
    const rate = span > 0 ? Math.max(0, this.#done - from.done) / span : 0;
    const { total } = this.#opts;
    const eta = total > 0 && rate > 0 && now - this.#start >= ETA_AFTER_MS
      ? Math.max(0, total - this.#done) / rate
      : Infinity;
    return { elapsed, rate, eta };
  }

  /**
   * The progress as one line: `Loading: 1.0 GiB / 2.5 GiB (41.3%), 79.6 MiB/s, 10/28 done,
   * ETA 19s`. With `columns` (a terminal's width) it is the status-line form, which never wraps:
   * `Loading: [####------] 41% 1.0 GiB / 2.5 GiB,  79.6 MiB/s, ETA 19s, 10/28 done`, numbers
   * padded to their widest so nothing shifts as they change, the bar as wide as the widest
   * line leaves room for (none below {@link BAR_WIDTH}.min), the items only where they fit, and
   * at most `columns - 1` characters.
   */
  line(columns?: number): string {
    const { label, total, unit } = this.#opts;
    const { rate, eta } = this.#stats();
    const fmt = unit === "bytes" ? formatBytes : String;
    const pct = total > 0 ? Math.min(100, (this.#done / total) * 100) : 0;
    const items = this.#itemsText();
    const etaText = Number.isFinite(eta) && !this.#finished ? `, ETA ${formatDuration(eta)}` : "";
    if (columns === undefined) {
      const amount = total > 0
        ? `${fmt(this.#done)} / ${fmt(total)} (${pct.toFixed(1)}%)`
        : fmt(this.#done);
      const speed = unit === "bytes" ? `, ${formatBytes(rate)}/s` : "";
      return `${label}: ${amount}${speed}${items}${etaText}`;
    }
    // The last column stays free: a line that fills it wraps on some terminals.
    const room = columns - 1;
    const head = `${label}: `;
    const speed = unit === "bytes" ? `, ${`${formatBytes(rate)}/s`.padStart(12)}` : "";
    if (total <= 0) return `${head}${fmt(this.#done)}${speed}${items}`.slice(0, room);
    const pctText = `${Math.floor(pct)}%`.padStart(4);
    // "1023.9 MiB" is the widest byte count.
    const amount = `${fmt(this.#done).padStart(unit === "bytes" ? 10 : fmt(total).length)} / ` +
      fmt(total);
    const widest = head.length + 3 + pctText.length + 1 + amount.length + speed.length +
      ", ETA 1m01s".length;
    const width = Math.min(BAR_WIDTH.max, room - widest);
    let bar = "";
    if (width >= BAR_WIDTH.min) {
      const full = Math.round((pct / 100) * width);
      bar = `[${"#".repeat(full)}${"-".repeat(width - full)}] `;
    }
    const line = `${head}${bar}${pctText} ${amount}${speed}${etaText}`;
    return (line.length + items.length <= room ? line + items : line).slice(0, room);
  }

  /** `, 3/10 done`, `, archives 3/10`, `, archives 3` (total unknown), or "" without items. */
  #itemsText(): string {
    if (!this.#items) return "";
    const { done, total } = this.#items;
    const count = total > 0 ? `${done}/${total}` : `${done}`;
    const { itemsLabel } = this.#opts;
    return itemsLabel ? `, ${itemsLabel} ${count}` : `, ${count} done`;
  }

  #emit(event: "start" | "progress" | "done", message?: string): void {
    if (this.#opts.mode !== "json") return;
    const { rate, eta, elapsed } = this.#stats();
    this.#logger.event({
      level: "info",
      time: new Date(this.#now()).toISOString(),
      msg: message ?? this.line(),
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

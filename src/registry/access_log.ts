/**
 * The registry's access log: one line per request (time, client, user, method, route pattern and
 * repository, status, bytes, duration, the `?ns=` upstream a containerd mirror names), in the
 * logger's format (`--log-format text|json`) on the log stream, stderr, like every other line of
 * the daemon (journald records it with the rest; stdout stays for data output).
 *
 * Lines are not written one by one: a request only adds its entry to a buffer, which is
 * formatted and written in one go when it holds {@link MAX_LINES} entries or {@link FLUSH_MS}
 * after its first, and on {@link AccessLog.close}. Measured on manifest GETs: docs/benchmarks.md (Registry
 * access log and metrics).
 */
import { log as processLog, type Logger } from "../log/logger.ts";
import { ROUTES } from "./debug/http_metrics.ts";

/** Buffered lines written at once. */
const MAX_LINES = 256;
/** The longest a line waits in the buffer. */
const FLUSH_MS = 200;

/** One answered request. */
export interface AccessEntry {
  client: string;
  user?: string;
  method: string;
  /** Index in {@link ROUTES}. */
  route: number;
  repository?: string;
  status: number;
  /** Response body bytes (Content-Length). */
  bytes: number;
  durationMs: number;
  /** The request URL, for its `ns` query parameter. */
  url: string;
}

/** The `ns` query parameter of `url` (at most 256 characters), or undefined. */
export function upstreamOf(url: string): string | undefined {
  const query = url.indexOf("?");
  if (query < 0) return undefined;
  let at = url.indexOf("ns=", query);
  while (at > 0 && url[at - 1] !== "?" && url[at - 1] !== "&") at = url.indexOf("ns=", at + 3);
  if (at < 0) return undefined;
  const end = url.indexOf("&", at);
  const raw = url.slice(at + 3, end < 0 ? url.length : end).slice(0, 256);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A text field value as the logger writes it: bare when it can be, else JSON-quoted. */
function textValue(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/**
 * Buffers access entries and writes them as lines in batches; see the file comment. A request
 * only stores its entry and the time: the lines are built at flush, in one loop. They have
 * the shape the logger gives every line (`INFO  access key=value ...`, or a JSON object with
 * `level`, `time` and `msg`), but are built here: the logger's generic path asks the terminal
 * about colour and walks the fields per line.
 */
export class AccessLog {
  #entries: AccessEntry[] = [];
  #times: number[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;
  #json: boolean;
  #label: string;

  constructor(readonly logger: Logger = processLog) {
    this.#json = logger.format === "json";
    this.#label = logger.colourOn() ? "\x1b[36mINFO \x1b[0m" : "INFO ";
  }

  /** Buffers `entry`, answered now. */
  record(entry: AccessEntry): void {
    this.#entries.push(entry);
    this.#times.push(Date.now());
    if (this.#closed || this.#entries.length >= MAX_LINES) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** One entry as a line. */
  #line(entry: AccessEntry, time: string): string {
    const duration = Math.round(entry.durationMs * 1000) / 1000;
    const ns = upstreamOf(entry.url);
    if (this.#json) {
      return JSON.stringify({
        level: "info",
        time,
        msg: "access",
        client: entry.client,
        user: entry.user,
        method: entry.method,
        route: ROUTES[entry.route],
        repository: entry.repository,
        status: entry.status,
        bytes: entry.bytes,
        duration_ms: duration,
        ns,
      });
    }
    // Client, method (an HTTP token), route, status and numbers never need quotes.
    return `${this.#label} access time=${time} client=${entry.client}` +
      (entry.user === undefined ? "" : ` user=${textValue(entry.user)}`) +
      ` method=${entry.method} route=${ROUTES[entry.route]}` +
      (entry.repository === undefined ? "" : ` repository=${textValue(entry.repository)}`) +
      ` status=${entry.status} bytes=${entry.bytes} duration_ms=${duration}` +
      (ns === undefined ? "" : ` ns=${textValue(ns)}`);
  }

  /** Writes the buffered entries. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const entries = this.#entries;
    const times = this.#times;
    if (entries.length === 0) return;
    this.#entries = [];
    this.#times = [];
    const lines = new Array<string>(entries.length);
    let ms = -1;
    let time = "";
    for (let i = 0; i < entries.length; i++) {
      if (times[i] !== ms) {
        ms = times[i];
        time = new Date(ms).toISOString();
      }
      lines[i] = this.#line(entries[i], time);
    }
    this.logger.writeLines(lines);
  }

  /** Writes what is buffered; later entries (requests finishing at shutdown) are not buffered. */
  close(): void {
    this.#closed = true;
    this.flush();
  }
}

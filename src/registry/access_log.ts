/**
 * The registry's access log: one line per request (time, client, user, method, route pattern and
 * repository, status, bytes, duration, the `?ns=` upstream a containerd mirror names), in the
 * logger's format (`--log-format text|json`) on the log stream, stderr, like every other line of
 * the daemon (journald records it with the rest; stdout stays for data output).
 *
 * Lines are not written one by one: a request only formats its line into a buffer, which is
 * written in one go when it holds {@link MAX_LINES} lines or {@link FLUSH_MS} after its first
 * line, and on {@link AccessLog.close}. Measured on manifest GETs: docs/benchmarks.md (Registry
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

/** Buffers access lines and writes them in batches; see the file comment. */
export class AccessLog {
  #lines: string[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;

  constructor(readonly logger: Logger = processLog) {}

  /** Formats `entry` into the buffer. */
  record(entry: AccessEntry): void {
    const json = this.logger.format === "json";
    this.#lines.push(this.logger.formatLine("info", "access", {
      // The JSON line has its own `time`; a text line gets one here.
      time: json ? undefined : new Date().toISOString(),
      client: entry.client,
      user: entry.user,
      method: entry.method,
      route: ROUTES[entry.route],
      repository: entry.repository,
      status: entry.status,
      bytes: entry.bytes,
      duration_ms: Math.round(entry.durationMs * 1000) / 1000,
      ns: upstreamOf(entry.url),
    }));
    if (this.#closed || this.#lines.length >= MAX_LINES) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Writes the buffered lines. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const lines = this.#lines;
    this.#lines = [];
    this.logger.writeLines(lines);
  }

  /** Writes what is buffered; later entries (requests finishing at shutdown) are not buffered. */
  close(): void {
    this.#closed = true;
    this.flush();
  }
}

/**
 * The registry's access log: one line per request (time, client, user, method, route pattern and
 * repository, status, bytes, duration, the `?ns=` upstream a containerd mirror names), in the
 * logger's format (`--log-format text|json`) on the log stream, stderr, like every other line of
 * the daemon (journald records it with the rest; stdout stays for data output).
 *
 * A request only stores its raw fields (strings it already has, numbers, the time as a number) in
 * preallocated columns: no line, no object, no `Date`, no clock read. The lines are built and
 * written in batches: when {@link BATCH} entries wait, or on a timer at most {@link FLUSH_MS}
 * after an entry, one background write per batch (see `OrderedWriter`: the log's other lines keep
 * their place). While a batch is being written,
 * entries keep coming into the columns; when stderr does not take them (journald stuck), the
 * columns fill up to {@link CAPACITY} entries or {@link MAX_URL_CHARS} characters of URLs, and
 * later requests are not logged but counted ({@link AccessLog.dropped}, in `/metrics`), with a
 * warning line once the stream moves again. {@link AccessLog.close} writes the rest.
 * Measured on manifest GETs: docs/benchmarks.md (Registry access log and metrics).
 */
import { log as processLog, type Logger, textValue } from "../log/logger.ts";
import { repositoryOf, ROUTES } from "./debug/http_metrics.ts";

/** Entries that make a full batch, written at once. */
export const BATCH = 256;
/** The longest an entry waits for its batch. */
const FLUSH_MS = 200;
/** Entries held at most while stderr does not take the lines; later ones are dropped. */
export const CAPACITY = 8192;
/** Characters of request URLs held at most, likewise (the URLs are what an entry holds). */
const MAX_URL_CHARS = 4 << 20;

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

/** What `JSON.stringify` writes unescaped between its quotes (it escapes control characters). */
// deno-lint-ignore no-control-regex
const PLAIN_JSON = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** `JSON.stringify(value)`, without its call for the common plain string. */
function jsonString(value: string): string {
  return PLAIN_JSON.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** "000" to "999": the milliseconds of a timestamp. */
const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, "0"));
/** ".001" to ".999" without trailing zeros, and "" for 0: the fraction of a duration. */
const FRACTIONS = MILLIS.map((m, i) => i === 0 ? "" : "." + m.replace(/0+$/, ""));

/**
 * `Math.round(ms * 1000) / 1000` as text (what the logger would write), without a float to
 * text conversion: the whole milliseconds and the fraction's digits from {@link FRACTIONS}.
 */
function milliseconds(ms: number): string {
  const micros = Math.round(ms * 1000);
  const whole = Math.floor(micros / 1000);
  return `${whole}${FRACTIONS[micros - whole * 1000]}`;
}

/** The client, user and method fields of a text line. */
function textWho(client: string, user: string | undefined, method: string): string {
  // Client (an IP address) and method (an HTTP token) never need quotes.
  return `client=${client}${user === undefined ? "" : ` user=${textValue(user)}`} method=${method}`;
}

/** The client, user and method fields of a JSON line. */
function jsonWho(client: string, user: string | undefined, method: string): string {
  return `"client":${jsonString(client)}${
    user === undefined ? "" : `,"user":${jsonString(user)}`
  },"method":${jsonString(method)}`;
}

/**
 * Buffers access entries and writes them as lines in batches; see the file comment. The lines
 * have the shape the logger gives every line (`INFO  access key=value ...`, or a JSON object with
 * `level`, `time` and `msg` first), byte for byte, but are built here, in one loop per batch.
 */
export class AccessLog {
  // The columns: entry i is field[i] for i < #count.
  #time = new Float64Array(CAPACITY);
  #status = new Uint16Array(CAPACITY);
  #route = new Uint8Array(CAPACITY);
  #bytes = new Float64Array(CAPACITY);
  #duration = new Float64Array(CAPACITY);
  #client = new Array<string>(CAPACITY);
  #user = new Array<string | undefined>(CAPACITY);
  #method = new Array<string>(CAPACITY);
  #url = new Array<string>(CAPACITY);
  #count = 0;
  #urlChars = 0;
  #dropped = 0;
  #warned = 0;
  #timer?: ReturnType<typeof setTimeout>;
  /** The background write in flight, if any. */
  #writing?: Promise<void>;
  #closed = false;
  #json: boolean;
  #label: string;
  /** The second the cached timestamp prefix is for, and that prefix ("2026-11-30T20:26:18."). */
  #second = -1;
  #prefix = "";

  constructor(readonly logger: Logger = processLog) {
    this.#json = logger.format === "json";
    this.#label = logger.colourOn() ? "\x1b[36mINFO \x1b[0m" : "INFO ";
  }

  /** Entries not logged because the buffer was full (stderr not taking the lines). */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Stores one answered request: `route` indexes {@link ROUTES}, `url` is the request URL (for its
   * repository and `ns` parameter), `bytes` the response body bytes, `end` the `performance.now()`
   * it was answered at (no clock is read here: on the VM measured, a clock read cost more than the
   * rest of this; the wall time is worked out per batch).
   */
  record(
    client: string,
    user: string | undefined,
    method: string,
    route: number,
    url: string,
    status: number,
    bytes: number,
    end: number,
    durationMs: number,
  ): void {
    const i = this.#count;
    if (i === CAPACITY || this.#urlChars > MAX_URL_CHARS) {
      this.#dropped++;
      return;
    }
    this.#time[i] = end;
    this.#client[i] = client;
    this.#user[i] = user;
    this.#method[i] = method;
    this.#route[i] = route;
    this.#url[i] = url;
    this.#status[i] = status;
    this.#bytes[i] = bytes;
    this.#duration[i] = durationMs;
    this.#count = i + 1;
    this.#urlChars += url.length;
    if (this.#writing !== undefined) return; // the write's end goes on
    // A full batch at once (a timer costs more than the lines); else within FLUSH_MS.
    if (i + 1 >= BATCH || this.#closed) this.flush();
    else if (this.#timer === undefined) this.#timer = setTimeout(this.#tick, FLUSH_MS);
  }

  /** The timer: armed by the first entry that finds none; at most one a FLUSH_MS. */
  #tick = () => {
    this.#timer = undefined;
    this.flush();
  };

  /** Formats the stored entries and starts writing them, unless a write is in flight. */
  flush(): void {
    if (this.#writing !== undefined || this.#count === 0) return;
    const text = this.#lines();
    this.#count = 0;
    this.#urlChars = 0;
    this.#writing = this.logger.writeLines(text).then(this.#written);
  }

  #written = () => {
    this.#writing = undefined;
    if (this.#dropped > this.#warned) {
      this.logger.warn(
        `Registry access log dropped ${this.#dropped - this.#warned} line(s): the log stream ` +
          "(stderr) did not take them in time",
      );
      this.#warned = this.#dropped;
    }
    if (this.#count >= BATCH || this.#closed) this.flush();
    else if (this.#count > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(this.#tick, FLUSH_MS);
    }
  };

  /** The timestamp of `ms` (epoch milliseconds) as `Date.toISOString` writes it. */
  #timestamp(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#prefix = new Date(second * 1000).toISOString().slice(0, -4);
    }
    return `${this.#prefix}${MILLIS[ms - second * 1000]}Z`;
  }

  /**
   * The stored entries as lines, joined by newlines. Consecutive entries mostly share their time
   * (to the millisecond), client, user and method, and their URL (nodes pulling the same image):
   * the parts of a line built from those are kept from the line before when they are the same.
   */
  #lines(): string {
    const json = this.#json;
    let out = "";
    let newline = "";
    // performance.now() to epoch milliseconds, as the wall clock says now.
    const epoch = Date.now() - performance.now();
    let ms = -1;
    let time = "";
    let client: string | undefined;
    let user: string | undefined;
    let method: string | undefined;
    let who = "";
    let url: string | undefined;
    let route = -1;
    let where = "";
    let upstream = "";
    for (let i = 0; i < this.#count; i++) {
      const wall = Math.floor(this.#time[i] + epoch);
      if (wall !== ms) {
        ms = wall;
        time = this.#timestamp(ms);
      }
      if (this.#client[i] !== client || this.#user[i] !== user || this.#method[i] !== method) {
        client = this.#client[i];
        user = this.#user[i];
        method = this.#method[i];
        who = json ? jsonWho(client, user, method) : textWho(client, user, method);
      }
      if (this.#url[i] !== url || this.#route[i] !== route) {
        url = this.#url[i];
        route = this.#route[i];
        const repository = repositoryOf(url, route);
        const ns = upstreamOf(url);
        if (json) {
          where = `,"route":"${ROUTES[route]}"${
            repository === undefined ? "" : `,"repository":${jsonString(repository)}`
          }`;
          upstream = ns === undefined ? "}" : `,"ns":${jsonString(ns)}}`;
        } else {
          where = ` route=${ROUTES[route]}${
            repository === undefined ? "" : ` repository=${textValue(repository)}`
          }`;
          upstream = ns === undefined ? "" : ` ns=${textValue(ns)}`;
        }
      }
      const duration = milliseconds(this.#duration[i]);
      out += json
        ? `${newline}{"level":"info","time":"${time}","msg":"access",${who}${where},"status":${
          this.#status[i]
        },"bytes":${this.#bytes[i]},"duration_ms":${duration}${upstream}`
        : `${newline}${this.#label} access time=${time} ${who}${where} status=${
          this.#status[i]
        } bytes=${this.#bytes[i]} duration_ms=${duration}${upstream}`;
      newline = "\n";
    }
    return out;
  }

  /**
   * Writes what is stored, after the write in flight; resolves once written. Entries recorded
   * later (requests finishing after the shutdown timeout) are written one batch at a time.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#writing;
    this.flush();
    await this.#writing;
  }
}

/**
 * Serves HTTP on listeners the daemon owns, so that no client can knock it over: accept errors
 * (`Too many open files`) back off and retry instead of ending the server, open connections are
 * capped below the open-file limit, and connections that send no request header in time or sit
 * idle are closed. Any number of listeners can share one {@link ConnectionGate}.
 *
 * `Deno.serve` cannot do this: its accept loop runs in Rust and ends on the first accept error
 * (denoland/deno `ext/http/http_next.rs`, `op_http_serve`: `accept_connection_from_listener(..)
 * .await?`), after which the process exits 1, and it has no connection cap or timeouts. So each
 * accepted connection is handed to the runtime's per-connection server, `serveHttpOnConnection`
 * (`ext/http/00_serve.ts`, exported on `Deno[Deno.internal]`): the same native HTTP/1.1, HTTP/2
 * and TLS code as `Deno.serve` (`serve_http_on` in `http_next.rs`), so requests cost the same.
 *
 * Timeouts are checked by one sweep timer, not per request. A connection that has sent no
 * complete request header `headerTimeoutMs` after it opened (a stalled TLS handshake included)
 * is cut: nothing is in flight on it. One whose last request started `idleTimeoutMs` ago gets a
 * graceful close: the runtime stops waiting for a request (a half-sent one included), lets a
 * response still streaming finish, then closes.
 */
import { errorMessage } from "../errors.ts";
import { log } from "../log/logger.ts";

/** Timeouts of {@link serveListener}. */
export interface ConnectionTimeouts {
  /** Close a connection that has sent no complete request header this long after opening. */
  headerTimeoutMs: number;
  /** Close a connection gracefully when its last request started this long ago. */
  idleTimeoutMs: number;
}

/** What the runtime's per-connection server returns. */
interface ConnectionServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

type ServeHttpOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  onError: (err: unknown) => Response | Promise<Response>,
  onListen: () => void,
) => ConnectionServer;

/** The runtime's per-connection HTTP server; an error when this runtime has none. */
function runtimeServeHttpOnConnection(): ServeHttpOnConnection {
  const deno = Deno as unknown as { internal?: symbol } & Record<symbol, unknown>;
  const internals = deno.internal ? deno[deno.internal] as Record<string, unknown> : undefined;
  const serve = internals?.serveHttpOnConnection;
  if (typeof serve !== "function") {
    throw new Error(
      `Deno ${Deno.version.deno} has no per-connection HTTP server (serveHttpOnConnection)`,
    );
  }
  return serve as ServeHttpOnConnection;
}

/** Descriptors kept free for storage, TLS and logging when capping connections. */
const RESERVED_FILES = 32;

/**
 * How many more files this process can open, counted up to `max` by opening `/dev/null` until
 * that fails, then closing them all. (The open-file limit itself is not readable: Deno refuses
 * `/proc/self/limits` without --allow-all.)
 */
export function openFileHeadroom(max: number): number {
  const files: Deno.FsFile[] = [];
  try {
    while (files.length < max) files.push(Deno.openSync("/dev/null"));
  } catch {
    // The limit (or /dev/null is missing, and then nothing can be said: count what opened).
  } finally {
    for (const f of files) f.close();
  }
  return files.length;
}

/**
 * The connections that fit in `headroom` free descriptors: each may hold a socket and an open
 * blob file, and {@link RESERVED_FILES} stay free. At least 1.
 */
export function connectionsFitting(headroom: number): number {
  return Math.max(1, Math.floor((headroom - RESERVED_FILES) / 2));
}

/** Descriptors that `max` connections may need, reserve included. */
export function filesFor(max: number): number {
  return max * 2 + RESERVED_FILES;
}

/**
 * Counts open connections across listeners and makes accepting wait while `max` are open.
 * Reaching the limit is logged once per minute at most.
 */
export class ConnectionGate {
  #active = 0;
  #waiting: (() => void)[] = [];
  #loggedAt = -Infinity;

  constructor(readonly max: number, readonly hint = "") {}

  /** Connections open now. */
  get active(): number {
    return this.#active;
  }

  /** Takes a slot: undefined when one is free, else a promise that resolves once one is. */
  acquire(): Promise<void> | undefined {
    if (this.#active < this.max) {
      this.#active++;
      return undefined;
    }
    const now = Date.now();
    if (now - this.#loggedAt >= 60_000) {
      this.#loggedAt = now;
      log.warn(
        `Registry has ${this.max} connections open, its limit: new connections wait until one ` +
          `closes${this.hint ? ` (${this.hint})` : ""}`,
      );
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Gives a slot back (to a waiting acceptor when there is one). */
  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active--;
  }
}

/** A listener being served; see {@link serveListener}. */
export interface ServedListener {
  /** Where it listens. */
  readonly addr: Deno.NetAddr;
  /** Connections open on this listener. */
  readonly connections: number;
  /**
   * Stops accepting, lets requests in flight finish and closes every connection. False when
   * some were still busy after `timeoutMs` (a graceful close cannot be cut short: they end with
   * the process).
   */
  shutdown(timeoutMs: number): Promise<boolean>;
}

interface OpenConnection {
  opened: number;
  /** When the last request started. */
  last: number;
  requests: number;
  closing: boolean;
  abort: AbortController;
  server?: ConnectionServer;
  finished: Promise<void>;
}

/**
 * Aborts a connection's server. The runtime's abort listener throws BadResource when that
 * server has ended meanwhile (the peer closed and `finished` has not reached us yet): reported
 * as an uncaught error, that would end the process, so it is caught for the length of this
 * call; there is then nothing left to cut.
 */
function cutQuietly(abort: AbortController): void {
  const ended = (e: ErrorEvent) => {
    if (e.error instanceof Deno.errors.BadResource) e.preventDefault();
  };
  globalThis.addEventListener("error", ended);
  try {
    abort.abort();
  } finally {
    globalThis.removeEventListener("error", ended);
  }
}

/** Options of {@link serveListener}. */
export interface ServeListenerOptions extends ConnectionTimeouts {
  gate: ConnectionGate;
  /** Answers a request whose handler threw. */
  onError: (err: unknown) => Response | Promise<Response>;
  /** What the listener serves, for log lines ("Registry"). */
  name?: string;
}

const noop = () => {};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True for the errors `accept` gives once the listener is closed. */
function listenerClosed(err: unknown): boolean {
  return err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted;
}

/**
 * Serves `handler` on every connection `listener` accepts, within the gate's cap and the
 * timeouts, until {@link ServedListener.shutdown}.
 */
export function serveListener(
  listener: Deno.Listener<Deno.Conn, Deno.NetAddr>,
  handler: Deno.ServeHandler<Deno.NetAddr>,
  options: ServeListenerOptions,
): ServedListener {
  const serveOn = runtimeServeHttpOnConnection();
  const { gate, headerTimeoutMs, idleTimeoutMs, onError } = options;
  const name = options.name ?? "Registry";
  const where = `${listener.addr.hostname}:${listener.addr.port}`;
  const open = new Set<OpenConnection>();
  let clock = Date.now();
  let stopping = false;
  let wakeAcceptor: () => void = noop;
  const stopped = new Promise<void>((resolve) => wakeAcceptor = resolve);

  const cut = (c: OpenConnection) => {
    c.closing = true;
    cutQuietly(c.abort);
  };
  const closeGracefully = (c: OpenConnection) => {
    c.closing = true;
    // Rejects when the connection has ended meanwhile: nothing left to close.
    c.server?.shutdown().catch(noop);
  };

  const sweep = setInterval(() => {
    clock = Date.now();
    for (const c of open) {
      if (c.closing) continue;
      if (c.requests === 0) {
        if (clock - c.opened >= headerTimeoutMs) {
          log.debug(`${name} closed a connection that sent no request in ${headerTimeoutMs} ms`);
          cut(c);
        }
      } else if (clock - c.last >= idleTimeoutMs) {
        closeGracefully(c);
      }
    }
  }, Math.max(10, Math.min(1000, headerTimeoutMs / 4, idleTimeoutMs / 4)));

  const serveConnection = (conn: Deno.Conn) => {
    const c: OpenConnection = {
      opened: clock,
      last: clock,
      requests: 0,
      closing: false,
      abort: new AbortController(),
      finished: Promise.resolve(),
    };
    const counted: Deno.ServeHandler<Deno.NetAddr> = (req, info) => {
      c.requests++;
      c.last = clock;
      return handler(req, info);
    };
    try {
      c.server = serveOn(conn, c.abort.signal, counted, onError, noop);
    } catch (err) {
      log.warn(`${name} cannot serve a connection: ${errorMessage(err)}`);
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      gate.release();
      return;
    }
    open.add(c);
    // A connection reset by the peer rejects `finished`: that is the client's business.
    c.finished = c.server.finished.catch(noop).then(() => {
      open.delete(c);
      gate.release();
    });
  };

  const acceptLoop = async () => {
    let delay = 0;
    let failures = 0;
    while (!stopping) {
      const slot = gate.acquire();
      if (slot) await Promise.race([slot, stopped]);
      if (stopping) {
        // Hand the slot back, now or once the gate grants it.
        if (slot) slot.then(() => gate.release());
        else gate.release();
        break;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        gate.release();
        if (stopping || listenerClosed(err)) break;
        // Like Go's http.Server: back off 5 ms, doubling to 1 s, and keep serving.
        delay = delay ? Math.min(delay * 2, 1000) : 5;
        if (failures++ === 0) {
          log.warn(
            `${name} cannot accept connections on ${where}: ${errorMessage(err)}; retrying`,
          );
        }
        await sleep(delay);
        continue;
      }
      if (failures > 0) {
        log.info(`${name} accepts connections again after ${failures} failed attempt(s)`);
        failures = 0;
      }
      delay = 0;
      serveConnection(conn);
    }
  };
  const accepting = acceptLoop();

  return {
    addr: listener.addr,
    get connections() {
      return open.size;
    },
    async shutdown(timeoutMs: number): Promise<boolean> {
      stopping = true;
      wakeAcceptor();
      clearInterval(sweep);
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await accepting;
      const all = [...open];
      for (const c of all) {
        if (c.closing) continue;
        if (c.requests === 0) cut(c);
        else closeGracefully(c);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finished = await Promise.race([
        Promise.all(all.map((c) => c.finished)).then(() => true),
        new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), timeoutMs)),
      ]);
      clearTimeout(timer);
      return finished;
    },
  };
}

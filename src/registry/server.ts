/**
 * Runs the registry daemon: checks storage, TLS and htpasswd up front (one clear line on
 * failure), serves the Hono app on its own listener and the stored k0s binaries on a second,
 * plain-HTTP one (`--files-port`), both through `connections.ts` (accept errors back off,
 * connections capped and timed out), and metrics and health on a third (`--debug-address`,
 * `debug/debug_server.ts`); writes the access log; drops permissions it no longer needs, and
 * shuts down gracefully on the signal (`/readyz` says so, stop accepting, let in-flight requests
 * finish, bounded).
 */
import { formatDuration } from "../config/duration.ts";
import { parseHostPort } from "../config/host_port.ts";
import { AccessLog } from "./access_log.ts";
import { createDebugHandler } from "./debug/debug_server.ts";
import { HttpMetrics, registryRoute, Route } from "./debug/http_metrics.ts";
import { EventLoopMonitor } from "./debug/process_metrics.ts";
import { StorageUsage } from "./debug/storage_usage.ts";
import { instrument, type Instruments } from "./instrument.ts";
import { errorMessage, UserError } from "../errors.ts";
import { log } from "../log/logger.ts";
import type { Runner } from "../process/runner.ts";
import type { AccessPolicy } from "./auth/access.ts";
import { CredentialChecker, parseHtpasswd } from "./auth/htpasswd.ts";
import {
  ConnectionGate,
  connectionsFitting,
  filesFor,
  openFileHeadroom,
  serveListener,
} from "./connections.ts";
import { createRegistryApp } from "./http/app.ts";
import { createFilesHandler } from "./http/files.ts";
import { k0sFilesPath } from "./k0s_files.ts";
import { readLoadStatus } from "../bundle/loading/load_state.ts";
import { K0sBinaryStore } from "./storage/k0s_binaries.ts";
import type { ServeLimits } from "./limits.ts";
import { openDiskStorage, type RegistryStorage } from "./storage/storage.ts";
import { prepareSources, startReplication, type SyncOptions } from "./sync/replicator.ts";
import { readSyncStatus } from "./sync/sync_status.ts";
import { UploadSessions } from "./storage/upload_sessions.ts";
import { autoTls, defaultSans, readTlsFiles, type TlsMaterial } from "./tls.ts";

/** How the registry is served. */
export interface ServeOptions {
  host: string;
  port: number;
  storage: string;
  tls: { mode: "off" | "files" | "auto"; cert: string; key: string; sans: string[] };
  auth: { htpasswd: string; authPulls: boolean; readOnly: boolean };
  limits: ServeLimits;
  /**
   * The k0s binaries listener: plain HTTP on `host:port` (0: none), files under `/<prefix>/`
   * (the repository prefix).
   */
  files: { port: number; prefix: string };
  /** Replication from other registries (`--sync-from`); none when absent or empty. */
  sync?: SyncOptions;
  /** `HOST:PORT` of the metrics and health listener; "" for none (and no metrics kept). */
  debugAddress: string;
  /** Write one access log line per request. */
  accessLog: boolean;
  /** How long in-flight requests may take after a shutdown signal. Default 10 s. */
  shutdownTimeoutMs?: number;
  /**
   * Revoke run, ffi, sys and env once serving (default true). A background bundle load in the
   * same process needs them, so `registry --bundle-path` keeps them.
   */
  dropPermissions?: boolean;
}

/** Creates the storage directory and proves it is writable. */
async function checkStorage(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    const probe = await Deno.makeTempFile({ dir, prefix: ".probe-" });
    await Deno.remove(probe);
  } catch (err) {
    throw new UserError(`Cannot use registry storage "${dir}": ${errorMessage(err)}`);
  }
}

async function accessPolicy(
  auth: ServeOptions["auth"],
  limits: ServeLimits,
): Promise<AccessPolicy> {
  if (!auth.htpasswd) {
    if (auth.authPulls) {
      throw new UserError("Cannot require auth for pulls without --htpasswd");
    }
    return { authPulls: false, readOnly: auth.readOnly };
  }
  let text: string;
  try {
    text = await Deno.readTextFile(auth.htpasswd);
  } catch (err) {
    throw new UserError(`Cannot read htpasswd file "${auth.htpasswd}": ${errorMessage(err)}`);
  }
  try {
    const users = parseHtpasswd(text, `htpasswd file "${auth.htpasswd}"`);
    if (users.size === 0) throw new Error(`htpasswd file "${auth.htpasswd}" has no users`);
    return {
      credentials: new CredentialChecker(users, { maxFailures: limits.maxLoginFailures }),
      authPulls: auth.authPulls,
      readOnly: auth.readOnly,
    };
  } catch (err) {
    throw new UserError(`Cannot use ${errorMessage(err)}`);
  }
}

async function tlsMaterial(
  options: ServeOptions,
  runner: Runner,
): Promise<TlsMaterial | undefined> {
  const { tls } = options;
  if (tls.mode === "off") return undefined;
  if (tls.mode === "files") {
    if (!tls.cert || !tls.key) {
      throw new UserError("Cannot serve TLS: both --tls-cert and --tls-key are needed");
    }
    return await readTlsFiles(tls.cert, tls.key);
  }
  return await autoTls(options.storage, defaultSans(tls.sans), runner);
}

function listenError(err: unknown, where: string, tls?: TlsMaterial): UserError {
  if (err instanceof Deno.errors.AddrInUse) {
    return new UserError(`Cannot listen on ${where}: address already in use`);
  }
  if (err instanceof Deno.errors.PermissionDenied) {
    return new UserError(`Cannot listen on ${where}: permission denied`);
  }
  if (err instanceof Deno.errors.AddrNotAvailable) {
    return new UserError(`Cannot listen on ${where}: address not available on this host`);
  }
  if (tls) {
    return new UserError(
      `Cannot serve TLS with certificate "${tls.certFile}" and key "${tls.keyFile}": ${
        errorMessage(err)
      }`,
    );
  }
  return new UserError(`Cannot listen on ${where}: ${errorMessage(err)}`);
}

/** Drops the permission kinds the serving path never uses again (net, read, write stay). */
function dropPermissions(): string[] {
  const dropped: string[] = [];
  for (const name of ["run", "ffi", "sys", "env"] as const) {
    try {
      Deno.permissions.revokeSync({ name });
      dropped.push(name);
    } catch (err) {
      log.debug(`Cannot revoke the ${name} permission: ${errorMessage(err)}`);
    }
  }
  return dropped;
}

/**
 * The connection cap: `registry.limits.maxConnections`, lowered (and said so) when the
 * open-file limit leaves no room for that many.
 */
function connectionCap(configured: number): ConnectionGate {
  const hint = "raise registry.limits.maxConnections or the open-file limit";
  const headroom = openFileHeadroom(filesFor(configured));
  if (headroom >= filesFor(configured)) return new ConnectionGate(configured, hint);
  const max = connectionsFitting(headroom);
  log.info(
    `Registry limits connections to ${max}, not ${configured}: only ${headroom} more files ` +
      "can be open at once (raise the open-file limit: LimitNOFILE, ulimit -n)",
  );
  return new ConnectionGate(max, hint);
}

function listen(options: ServeOptions, tls?: TlsMaterial): Deno.Listener<Deno.Conn, Deno.NetAddr> {
  const where = { hostname: options.host, port: options.port };
  try {
    if (!tls) return Deno.listen(where);
    // The protocols Deno.serve offers over TLS.
    return Deno.listenTls({
      ...where,
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: ["h2", "http/1.1"],
    });
  } catch (err) {
    throw listenError(err, `${options.host}:${options.port}`, tls);
  }
}

function shownHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** Listens for the k0s binaries (see {@link ServeOptions.files}). */
function listenFiles(options: ServeOptions): Deno.Listener<Deno.Conn, Deno.NetAddr> {
  try {
    return Deno.listen({ hostname: options.host, port: options.files.port });
  } catch (err) {
    throw listenError(err, `${options.host}:${options.files.port} (--files-port)`);
  }
}

/** Listens for metrics and health (see {@link ServeOptions.debugAddress}). */
function listenDebug(address: string): Deno.Listener<Deno.Conn, Deno.NetAddr> {
  // The config schema has checked the address.
  const where = parseHostPort(address)!;
  try {
    return Deno.listen(where);
  } catch (err) {
    throw listenError(err, `${address} (--debug-address)`);
  }
}

/** Connections the debug listener serves at once (its own cap: scrapes never take registry slots). */
const DEBUG_CONNECTIONS = 16;

/**
 * The registry's HTTP API over `storage` on 127.0.0.1, an ephemeral port, without auth (pushes
 * from loopback are accepted), until `signal` aborts: for a local tool that speaks only the
 * registry protocol (`bundle load --importer skopeo`). `finished` settles once it has stopped.
 */
export function serveLoopbackRegistry(
  storage: RegistryStorage,
  signal: AbortSignal,
): { port: number; finished: Promise<void> } {
  const app = createRegistryApp({ storage });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal, onListen: () => {} },
    (req, info) => app.fetch(req, info),
  );
  return { port: server.addr.port, finished: server.finished };
}

/**
 * Serves the registry until `signal` aborts, then shuts down gracefully. `deps.storage`, when
 * given, is the storage object to serve (on `options.storage`): the one the daemon's background
 * bundle load writes to, so both share one object; default: a new one on `options.storage`.
 */
export async function serveRegistry(
  options: ServeOptions,
  deps: { runner: Runner; signal: AbortSignal; storage?: RegistryStorage },
): Promise<void> {
  const access = await accessPolicy(options.auth, options.limits);
  await checkStorage(options.storage);
  const tls = await tlsMaterial(options, deps.runner);
  // The sources' k0s binaries come from their files listeners, configured like this one's.
  const sources = options.sync
    ? await prepareSources({ files: options.files, ...options.sync }, options.storage)
    : [];
  const storage = deps.storage ?? openDiskStorage(options.storage);
  const k0sFiles = new K0sBinaryStore(storage.driver);
  const sessions = new UploadSessions(storage, options.limits.uploads);
  await sessions.load();
  const app = createRegistryApp({ storage, access, sessions });
  const scheme = tls ? "https" : "http";
  // One gate for both listeners: the cap counts every connection against the open-file limit.
  const gate = connectionCap(options.limits.maxConnections);
  const served = (name: string) => ({
    gate,
    name,
    headerTimeoutMs: options.limits.headerTimeoutMs,
    idleTimeoutMs: options.limits.idleTimeoutMs,
    onError: (err: unknown) => {
      log.error(`${name} request failed: ${errorMessage(err)}`);
      return new Response("internal error", { status: 500 });
    },
  });
  const registryListener = listen(options, tls);
  let filesListener: Deno.Listener<Deno.Conn, Deno.NetAddr> | undefined;
  let debugListener: Deno.Listener<Deno.Conn, Deno.NetAddr> | undefined;
  try {
    if (options.files.port > 0) filesListener = listenFiles(options);
    if (options.debugAddress) debugListener = listenDebug(options.debugAddress);
  } catch (err) {
    registryListener.close();
    filesListener?.close();
    throw err;
  }
  const instruments: Instruments = {
    metrics: debugListener && new HttpMetrics(),
    accessLog: options.accessLog ? new AccessLog() : undefined,
  };
  const server = serveListener(
    registryListener,
    instrument((req, info) => app.fetch(req, info), registryRoute, instruments),
    served("Registry"),
  );
  const files = filesListener && serveListener(
    filesListener,
    instrument(
      createFilesHandler({
        store: k0sFiles,
        prefix: options.files.prefix,
      }),
      () => Route.files,
      instruments,
    ),
    served("k0s binaries"),
  );
  let stopping = false;
  const loop = debugListener && new EventLoopMonitor();
  const debug = debugListener && serveListener(
    debugListener,
    createDebugHandler({
      loadStatus: () => readLoadStatus(storage.driver),
      http: instruments.metrics!,
      usage: new StorageUsage(storage),
      loop: loop!,
      connections: () => ({ registry: server.connections, files: files?.connections ?? 0 }),
      uploadSessions: () => sessions.size,
      stopping: () => stopping,
      checkStorage: () => checkStorage(options.storage),
      replication: () => readSyncStatus(storage),
      droppedLogLines: () => ({
        access: instruments.accessLog?.dropped ?? 0,
        daemon: log.droppedLines(),
      }),
    }),
    {
      ...served("Metrics"),
      gate: new ConnectionGate(DEBUG_CONNECTIONS, "the debug listener serves scrapes only"),
    },
  );
  if (options.dropPermissions !== false) {
    const dropped = dropPermissions();
    log.debug(`Dropped permissions: ${dropped.join(", ") || "none"}`);
  }
  // Logged before "Registry serving", which tells a waiting caller that every listener is up.
  if (debug) {
    log.info(
      `Registry metrics and health at http://${shownHost(debug.addr.hostname)}:${debug.addr.port}` +
        " (/metrics, /healthz, /readyz)",
    );
  }
  if (files) {
    log.info(
      `k0s binaries served at http://${shownHost(files.addr.hostname)}:${files.addr.port}` +
        `${k0sFilesPath(options.files.prefix)}/<name> (see: k0rdentd registry status)`,
    );
  }
  // "Registry serving" is the last start-up line: whoever waits for it has read the rest.
  if (tls?.caFile) {
    log.info(`Clients must trust the registry CA "${tls.caFile}"`);
  }
  if (!access.credentials && !access.readOnly) {
    log.info("Pushes are accepted from this host only (loopback); others may pull");
  }
  const addr = server.addr;
  log.info(
    `Registry serving ${scheme}://${
      shownHost(addr.hostname)
    }:${addr.port} from "${options.storage}"` +
      (access.readOnly ? " (read-only)" : "") +
      (access.credentials ? ` (htpasswd${access.authPulls ? ", pulls need auth" : ""})` : ""),
  );
  log.debug(
    `Registry limits: ${gate.max} connections, request header within ` +
      `${options.limits.headerTimeoutMs} ms, idle connections closed after ` +
      `${options.limits.idleTimeoutMs} ms`,
  );
  const sync = options.sync;
  const replication = sync && sources.length
    ? startReplication(storage, sources, {
      intervalMs: sync.intervalMs,
      concurrency: sync.concurrency,
      signal: deps.signal,
      k0sFiles,
    })
    : undefined;
  if (sync && replication) {
    log.info(
      `Registry replicates from ${sources.map((s) => s.url).join(", ")} every ` +
        `${formatDuration(sync.intervalMs)} (see: k0rdentd registry status)`,
    );
  }
  const expiry = expireSessions(sessions);
  await waitForAbort(deps.signal);
  stopping = true;
  clearInterval(expiry);
  access.credentials?.close();
  log.info("Registry stopping: finishing requests in flight");
  const timeout = options.shutdownTimeoutMs ?? 10_000;
  const done = await Promise.all([server.shutdown(timeout), files?.shutdown(timeout) ?? true]);
  await replication?.done;
  // The debug listener answers until the registry has stopped (`/readyz`: 503 meanwhile).
  await debug?.shutdown(1000);
  loop?.stop();
  await instruments.accessLog?.close();
  const finished = done.every(Boolean);
  if (!finished) {
    log.warn(`Registry stopped with requests still running after ${timeout} ms`);
  } else {
    log.info("Registry stopped");
  }
}

/** Removes abandoned upload sessions on a timer (a quarter of the expiry, at most 5 min). */
function expireSessions(sessions: UploadSessions): ReturnType<typeof setInterval> {
  const { expiryMs } = sessions.limits;
  let running = false;
  return setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const removed = await sessions.expire();
      if (removed > 0) {
        log.info(
          `Registry removed ${removed} upload session(s) untouched for ${formatDuration(expiryMs)}`,
        );
      }
    } catch (err) {
      log.warn(`Registry cannot expire upload sessions: ${errorMessage(err)}`);
    } finally {
      running = false;
    }
  }, Math.max(250, Math.min(expiryMs / 4, 300_000)));
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

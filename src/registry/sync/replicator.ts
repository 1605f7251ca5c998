/**
 * `registry --sync-from URL`: keeps this registry a replica of one or more others. Each source
 * gets its own loop: a pass ({@link syncPass}), then a pause of the interval, until the daemon
 * stops. The state of every source goes to `sync/status.json` (`registry status`); a source
 * that cannot be reached is shown there and retried on the next tick, and serving goes on.
 */
import { othersCanAccess } from "../../fsx/file_mode.ts";
import { join } from "node:path";
import { RegistryClient, type RegistryTarget } from "../../bundle/pushing/registry_client.ts";
import { errorMessage, UserError } from "../../errors.ts";
import { pathExists } from "../../fsx/exists.ts";
import { log } from "../../log/logger.ts";
import { k0sFilesURL } from "../k0s_files.ts";
import type { K0sBinaryStore } from "../storage/k0s_binaries.ts";
import { layout } from "../storage/layout.ts";
import type { RegistryStorage } from "../storage/storage.ts";
import { syncK0sFiles } from "./files_pass.ts";
import { syncPass } from "./sync_pass.ts";
import { type SourceStatus, type SyncStatus, writeSyncStatus } from "./sync_status.ts";

/** How the daemon replicates (`registry.syncFrom` and friends). */
export interface SyncOptions {
  /** Source registries: `https://HOST:PORT`, `http://HOST:PORT` or `HOST:PORT` (HTTPS). */
  from: string[];
  /**
   * Their files listeners (`--sync-files-from`), in the same order: `http://HOST:PORT/<prefix>`;
   * empty or absent: derived from each source's host and {@link files}.
   */
  filesFrom?: string[];
  /** Pause between two passes of one source. */
  intervalMs: number;
  /**
   * PEM CA file the sources' certificates chain to; "" trusts the system roots plus this
   * registry's own `--tls auto` CA (`<storage>/tls/ca.crt`), which peers share when their
   * certificates were issued by one CA.
   */
  caFile: string;
  /** Basic-auth user on the sources ("" for none); its password is in `passwordFile`. */
  username: string;
  passwordFile: string;
  /** Requests in flight per source (default 4). */
  concurrency?: number;
  /**
   * The files listener of the sources (this daemon's own `--files-port` and `--prefix`: every
   * controller's registry is configured alike): the k0s binaries are copied from
   * `http://<source host>:<port>/<prefix>`. Absent or port 0: only images replicate.
   */
  files?: { port: number; prefix: string };
}

/** A source with its client, ready to replicate. */
export interface PreparedSource {
  url: string;
  client: RegistryClient;
  /** The source's files listener, `http://HOST:PORT/<prefix>`; absent: no k0s binaries. */
  filesBase?: string;
}

/** The target of a `--sync-from` value; a usage mistake is a {@link UserError}. */
export function parseSyncSource(value: string): RegistryTarget {
  const text = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UserError(
      `Invalid --sync-from "${value}": expected a URL such as https://10.0.0.5:5000`,
    );
  }
  const problem = url.protocol !== "http:" && url.protocol !== "https:"
    ? "only http:// and https:// are supported"
    : url.username || url.password
    ? "credentials do not belong in the URL (use --sync-username and --sync-password-file)"
    : (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash
    ? "expected the registry's root, without a path"
    : undefined;
  if (problem) throw new UserError(`Invalid --sync-from "${value}": ${problem}`);
  return { host: url.host, plainHttp: url.protocol === "http:" };
}

/** The CA file for the sources: `caFile`, else this registry's own `--tls auto` CA if present. */
async function sourcesCa(options: SyncOptions, storageDir: string): Promise<string | undefined> {
  if (options.caFile) return options.caFile;
  const own = join(storageDir, layout.tls("ca.crt"));
  return await pathExists(own) ? own : undefined;
}

/**
 * Checks the sources and reads the CA and password file, before the daemon serves (one clear
 * line on a mistake). Returns no sources when `from` is empty.
 */
export async function prepareSources(
  options: SyncOptions,
  storageDir: string,
): Promise<PreparedSource[]> {
  if (options.from.length === 0) return [];
  const targets = options.from.map(parseSyncSource);
  const filesFrom = options.filesFrom ?? [];
  if (filesFrom.length && filesFrom.length !== targets.length) {
    throw new UserError(
      `Got ${filesFrom.length} --sync-files-from for ${targets.length} --sync-from: give one per source, in the same order`,
    );
  }
  let password: string | undefined;
  if (options.username) {
    if (!options.passwordFile) {
      throw new UserError(
        `--sync-username "${options.username}" has no password: pass --sync-password-file`,
      );
    }
    let mode: number;
    try {
      mode = (await Deno.stat(options.passwordFile)).mode ?? 0;
      password = (await Deno.readTextFile(options.passwordFile)).replace(/\r?\n$/, "");
    } catch (err) {
      throw new UserError(
        `Cannot read --sync-password-file "${options.passwordFile}": ${errorMessage(err)}`,
      );
    }
    // A secret other users can read is refused, as ssh refuses such keys.
    if (othersCanAccess(mode)) {
      throw new UserError(
        `Refusing --sync-password-file "${options.passwordFile}": other users can access it (mode ${
          (mode & 0o777).toString(8).padStart(4, "0")
        }): chmod 600 it`,
      );
    }
  }
  const caFile = targets.some((t) => !t.plainHttp)
    ? await sourcesCa(options, storageDir)
    : undefined;
  const out: PreparedSource[] = [];
  for (const [i, target] of targets.entries()) {
    const client = await RegistryClient.open({
      ...target,
      caFile,
      username: options.username || undefined,
      password,
    });
    const files = options.filesFrom?.length
      ? options.filesFrom[i].replace(/\/+$/, "")
      : options.files?.port
      ? k0sFilesURL(
        new URL(`http://${target.host}`).hostname,
        options.files.port,
        options.files.prefix,
      )
      : undefined;
    out.push({ url: options.from[i], client, ...(files ? { filesBase: files } : {}) });
  }
  return out;
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** The running replication; `done` settles once every loop has stopped after `signal`. */
export interface Replication {
  done: Promise<void>;
}

/** Starts one loop per source; they stop when `signal` aborts. */
export function startReplication(
  storage: RegistryStorage,
  sources: PreparedSource[],
  options: {
    intervalMs: number;
    concurrency?: number;
    signal: AbortSignal;
    /** Where the sources' k0s binaries go (for sources with a `filesBase`). */
    k0sFiles?: K0sBinaryStore;
  },
): Replication {
  const statuses: SourceStatus[] = sources.map((s) => ({
    source: s.url,
    state: "starting",
    bytesCopied: 0,
  }));
  let writing = Promise.resolve();
  let lastWrite = 0;
  let pending: ReturnType<typeof setTimeout> | undefined;
  const write = () => {
    lastWrite = Date.now();
    const status: SyncStatus = {
      updatedAt: new Date().toISOString(),
      pid: Deno.pid,
      sources: structuredClone(statuses),
    };
    writing = writing.then(() => writeSyncStatus(storage, status)).catch((err) =>
      log.warn(`Registry cannot write the replication status: ${errorMessage(err)}`)
    );
  };
  /** Writes now, or at most once a second while a pass reports progress. */
  const save = (now = false) => {
    if (now || Date.now() - lastWrite >= 1000) {
      if (pending) clearTimeout(pending);
      pending = undefined;
      write();
    } else {
      pending ??= setTimeout(() => {
        pending = undefined;
        write();
      }, 1000);
    }
  };
  save(true);
  const loop = async (source: PreparedSource, status: SourceStatus) => {
    while (!options.signal.aborted) {
      const before = status.state;
      status.state = "syncing";
      status.lastAttemptAt = new Date().toISOString();
      save(true);
      const copiedBefore = status.bytesCopied;
      try {
        const result = await syncPass(source.client, storage, {
          concurrency: options.concurrency ?? 4,
          signal: options.signal,
          onProgress: (p) => {
            status.tags = p.tags;
            status.tagsBehind = p.tagsBehind;
            status.bytesBehind = p.bytesBehind;
            status.bytesCopied = copiedBefore + p.bytesCopied;
            save();
          },
        });
        Object.assign(status, {
          tags: result.tags,
          tagsBehind: result.tagsBehind,
          bytesBehind: result.bytesBehind,
          bytesCopied: copiedBefore + result.bytesCopied,
        });
        if (result.deferred > 0 && result.errors.length === 0) {
          // More manifests than one pass holds: go on at once with the rest.
          save(true);
          continue;
        }
        const errors = [...result.errors];
        if (source.filesBase && options.k0sFiles) {
          try {
            const files = await syncK0sFiles(source.filesBase, options.k0sFiles, options);
            status.k0sFiles = files.files;
            errors.push(...files.errors);
            if (files.copied.length) {
              log.info(
                `Registry replicated k0s binaries ${files.copied.join(", ")} from ${source.url}`,
              );
            }
          } catch (err) {
            if (options.signal.aborted) throw err;
            errors.push(`k0s binaries: ${errorMessage(err)}`);
          }
        }
        if (errors.length === 0 && result.tagsBehind === 0) {
          status.state = "in sync";
          status.lastSyncAt = new Date().toISOString();
          delete status.lastError;
          delete status.lastErrorAt;
          if (result.bytesCopied > 0) {
            log.info(
              `Registry replicated ${result.tags} tags from ${source.url} ` +
                `(${result.bytesCopied} bytes copied)`,
            );
          }
        } else {
          status.state = "behind";
          const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
          status.lastError = `${errors[0] ?? "tags left behind"}${more}`;
          status.lastErrorAt = new Date().toISOString();
          log.warn(`Registry replication from ${source.url}: ${status.lastError}`);
        }
      } catch (err) {
        if (options.signal.aborted) {
          // Stopped in the middle of a pass: the last finished pass says how things stand.
          status.state = before;
          break;
        }
        status.state = "unreachable";
        status.lastError = errorMessage(err);
        status.lastErrorAt = new Date().toISOString();
        log.warn(`Registry cannot replicate from ${source.url}: ${status.lastError}`);
      }
      save(true);
      await pause(options.intervalMs, options.signal);
    }
  };
  const done = Promise.all(sources.map((s, i) => loop(s, statuses[i]))).then(async () => {
    if (pending) clearTimeout(pending);
    write();
    await writing;
    for (const s of sources) s.client.close();
  });
  return { done };
}

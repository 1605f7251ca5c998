/**
 * `registry --print-systemd-unit` and the replica of `install --join --mode controller`: a
 * hardened systemd unit running the registry with the flags of the config.
 */
import { durationMs, formatDuration } from "../config/duration.ts";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { limitFlags, serveLimits } from "./limits.ts";
import { log, type LogFormat } from "../log/logger.ts";
import type { ServeOptions } from "./server.ts";
import { HOST } from "../host/paths.ts";
import { resolve } from "node:path";
import { UserError } from "../errors.ts";

const DEFAULT_SYNC_INTERVAL_MS = durationMs(defaultConfig().registry.syncInterval);

/** The serve options of `config.registry` (flags already applied to it). */
export function serveOptions(config: Config): ServeOptions {
  const r = config.registry;
  return {
    host: r.host,
    port: r.port,
    storage: r.storage,
    tls: { ...r.tls, sans: [...r.tls.sans] },
    auth: { ...r.auth },
    files: { port: r.filesPort, prefix: r.prefix },
    debugAddress: r.debugAddress,
    accessLog: r.accessLog,
    limits: serveLimits(r.limits),
    sync: {
      from: [...r.syncFrom],
      filesFrom: [...r.syncFilesFrom],
      intervalMs: durationMs(r.syncInterval) as number,
      caFile: r.syncCaFile,
      username: r.syncUsername,
      passwordFile: r.syncPasswordFile,
    },
  };
}

/**
 * The binary a unit runs: this executable (the compiled k0rdentd), or `/usr/local/bin/k0rdentd`
 * when running under `deno` (development).
 *
 * `Deno.execPath()` is Rust's `current_exe()` (denoland/deno v2.9.5 `ext/os/lib.rs`
 * `op_exec_path`), on Linux the link `/proc/self/exe`: the real path, with ` (deleted)` appended
 * once the file was removed or replaced. An executable under `/tmp` or `/var/tmp` cannot be the
 * unit's: systemd looks `ExecStart=` up only after setting up the mount namespace, where
 * `PrivateTmp=yes` has put empty directories there (systemd `src/core/exec-invoke.c`, main branch:
 * "Now that the mount namespace has been set up ... let's look for the thing we shall execute",
 * then "Unable to locate executable"), so the service would fail with 203/EXEC. Both are refused.
 */
export function unitBinary(exec: string = Deno.execPath()): string {
  if (/\/deno$/.test(exec)) return HOST.k0rdentdBinary;
  const move = `install it with \`install -m 0755 <k0rdentd> ${HOST.k0rdentdBinary}\` and run ` +
    "that one";
  if (exec.endsWith(" (deleted)")) {
    throw new UserError(
      `The registry unit cannot run this k0rdentd: its file "${
        exec.slice(0, -" (deleted)".length)
      }" was removed or replaced since it started; ${move}`,
    );
  }
  if (/^\/(var\/)?tmp\//.test(exec)) {
    throw new UserError(
      `The registry unit cannot run "${exec}": the unit has PrivateTmp=yes, so systemd finds no ` +
        `executable under /tmp or /var/tmp; ${move}`,
    );
  }
  return exec;
}

/** Quotes one ExecStart argument for systemd (`%` and `$` escaped, quoted when needed). */
export function systemdQuote(arg: string): string {
  return quoted(arg.replaceAll("%", "%%").replaceAll("$", "$$$$"));
}

/**
 * `path` as one word of `ReadWritePaths=`/`ReadOnlyPaths=`: specifiers (`%`) are expanded there
 * and words may be quoted, but `$` is no variable (only `Exec*=` lines substitute them,
 * systemd.service(5), "Command lines"; systemd `src/core/load-fragment.c`
 * `config_parse_namespace_path_strv`), so it stays single.
 */
export function systemdPath(path: string): string {
  return quoted(path.replaceAll("%", "%%"));
}

function quoted(escaped: string): string {
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** The `registry` arguments that reproduce `options`. */
export function serveArgs(options: ServeOptions): string[] {
  const args = [
    "registry",
    "--host",
    options.host,
    "--port",
    String(options.port),
    "--storage",
    options.storage,
    "--files-port",
    String(options.files.port),
    "--prefix",
    options.files.prefix,
    "--debug-address",
    options.debugAddress,
  ];
  if (!options.accessLog) args.push("--no-access-log");
  if (options.tls.mode === "auto") {
    args.push("--tls", "auto");
    for (const san of options.tls.sans) args.push("--tls-san", san);
  } else if (options.tls.mode === "files") {
    args.push("--tls-cert", options.tls.cert, "--tls-key", options.tls.key);
  } else {
    // Said outright: without it the daemon serves its default, --tls auto.
    args.push("--tls", "off");
  }
  if (options.auth.htpasswd) args.push("--htpasswd", options.auth.htpasswd);
  if (options.auth.authPulls) args.push("--auth-pulls");
  if (options.auth.readOnly) args.push("--read-only");
  args.push(...limitFlags(options.limits));
  const sync = options.sync;
  if (sync?.from.length) {
    for (const url of sync.from) args.push("--sync-from", url);
    for (const url of sync.filesFrom ?? []) args.push("--sync-files-from", url);
    if (sync.intervalMs !== DEFAULT_SYNC_INTERVAL_MS) {
      args.push("--sync-interval", formatDuration(sync.intervalMs));
    }
    if (sync.caFile) args.push("--sync-ca", sync.caFile);
    if (sync.username) {
      args.push("--sync-username", sync.username, "--sync-password-file", sync.passwordFile);
    }
  }
  return args;
}

/**
 * `options` with every file path made absolute against `cwd`. systemd ignores a relative path in
 * `ReadWritePaths=`/`ReadOnlyPaths=` ("path is not absolute, ignoring", systemd.exec(5); checked
 * with systemd 252's `systemd-analyze verify`) and runs the service in `/`, so a relative
 * `--storage ./var/registry` would name another, read-only directory there.
 */
function absoluteServePaths(options: ServeOptions, cwd: string = Deno.cwd()): ServeOptions {
  const abs = (path: string) => path ? resolve(cwd, path) : path;
  return {
    ...options,
    storage: abs(options.storage),
    tls: { ...options.tls, cert: abs(options.tls.cert), key: abs(options.tls.key) },
    auth: { ...options.auth, htpasswd: abs(options.auth.htpasswd) },
    ...(options.sync
      ? {
        sync: {
          ...options.sync,
          caFile: abs(options.sync.caFile),
          passwordFile: abs(options.sync.passwordFile),
        },
      }
      : {}),
  };
}

/**
 * The unit text for `binary` serving with `options` (relative paths resolved against `cwd`). A
 * log format other than text (by default the one in effect: `--log-format`, env or config) is
 * passed on, so journald gets JSON lines.
 */
export function systemdUnit(
  binary: string,
  given: ServeOptions,
  logFormat: LogFormat = log.format,
  cwd: string = Deno.cwd(),
): string {
  const options = absoluteServePaths(given, cwd);
  const globals = logFormat === "text" ? [] : ["--log-format", logFormat];
  const exec = [binary, ...globals, ...serveArgs(options)].map(systemdQuote).join(" ");
  const readable = [
    options.tls.cert,
    options.tls.key,
    options.auth.htpasswd,
    options.sync?.from.length ? options.sync.caFile : "",
    options.sync?.from.length && options.sync.username ? options.sync.passwordFile : "",
  ].filter(Boolean);
  return [
    "[Unit]",
    "Description=k0rdentd OCI registry",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${exec}`,
    "Restart=on-failure",
    "RestartSec=2",
    "KillSignal=SIGTERM",
    "TimeoutStopSec=30",
    "LimitNOFILE=65536",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    `ReadWritePaths=${systemdPath(options.storage)}`,
    ...(readable.length ? [`ReadOnlyPaths=${readable.map(systemdPath).join(" ")}`] : []),
    "ProtectHome=read-only",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictSUIDSGID=yes",
    "RestrictRealtime=yes",
    "RestrictNamespaces=yes",
    "LockPersonality=yes",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "UMask=0022",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/**
 * `k0rdentd registry` (serve), `registry verify`, `registry gc`, `registry status`,
 * `registry add-k0s-binary`, `registry --print-systemd-unit`.
 */
import { type Command, Option } from "commander";
import { UsageError, UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { printData, printOut } from "../../log/output.ts";
import { formatBytes, Progress, progressMode } from "../../log/progress.ts";
import { serveRegistry } from "../../registry/server.ts";
import { openDiskStorage } from "../../registry/storage/storage.ts";
import { serveOptions, systemdUnit, unitBinary } from "../../registry/systemd_unit.ts";
import { readSyncStatus, syncStatusLines } from "../../registry/sync/sync_status.ts";
import { verifyStorage } from "../../registry/verify.ts";
import { startBackgroundLoad, statusText } from "../../bundle/loading/background.ts";
import { addK0sBinary, k0sStoredLine } from "../../bundle/loading/k0s_binaries.ts";
import { openK0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import { readLoadStatus } from "../../bundle/loading/load_state.ts";
import { collectOldBundles, type RetentionReport } from "../../bundle/loading/retention.ts";
import { readBundleRecords, versionKey } from "../../bundle/loading/records.ts";
import { readInUse } from "../../bundle/loading/in_use.ts";
import { commandContext, flagOverrides } from "../context.ts";
import { booleanFlag } from "../../config/boolean.ts";
import { HOST } from "../../host/paths.ts";

const STORAGE_FLAG = { storage: { path: ["registry", "storage"], flag: "--storage" } };

const SIGNATURE_FLAGS = {
  verify: { path: ["registry", "verifySignature"], flag: "--verify" },
  cosignKey: { path: ["registry", "cosignKey"], flag: "--cosign-key" },
};

const SERVE_FLAGS = {
  host: { path: ["registry", "host"], flag: "--host" },
  port: { path: ["registry", "port"], flag: "--port" },
  filesPort: { path: ["registry", "filesPort"], flag: "--files-port" },
  debugAddress: { path: ["registry", "debugAddress"], flag: "--debug-address" },
  accessLog: { path: ["registry", "accessLog"], flag: "--no-access-log" },
  prefix: { path: ["registry", "prefix"], flag: "--prefix" },
  ...STORAGE_FLAG,
  tls: { path: ["registry", "tls", "mode"], flag: "--tls" },
  tlsCert: { path: ["registry", "tls", "cert"], flag: "--tls-cert" },
  tlsKey: { path: ["registry", "tls", "key"], flag: "--tls-key" },
  tlsSan: { path: ["registry", "tls", "sans"], flag: "--tls-san" },
  htpasswd: { path: ["registry", "auth", "htpasswd"], flag: "--htpasswd" },
  authPulls: { path: ["registry", "auth", "authPulls"], flag: "--auth-pulls" },
  readOnly: { path: ["registry", "auth", "readOnly"], flag: "--read-only" },
  bundlePath: { path: ["registry", "bundlePath"], flag: "--bundle-path" },
  ...SIGNATURE_FLAGS,
  maxConnections: { path: ["registry", "limits", "maxConnections"], flag: "--max-connections" },
  headerTimeout: { path: ["registry", "limits", "headerTimeout"], flag: "--header-timeout" },
  idleTimeout: { path: ["registry", "limits", "idleTimeout"], flag: "--idle-timeout" },
  maxUploads: { path: ["registry", "limits", "maxUploads"], flag: "--max-uploads" },
  maxUploadsPerClient: {
    path: ["registry", "limits", "maxUploadsPerClient"],
    flag: "--max-uploads-per-client",
  },
  uploadExpiry: { path: ["registry", "limits", "uploadExpiry"], flag: "--upload-expiry" },
  maxLoginFailures: {
    path: ["registry", "limits", "maxLoginFailures"],
    flag: "--max-login-failures",
  },
  syncFrom: { path: ["registry", "syncFrom"], flag: "--sync-from" },
  syncFilesFrom: { path: ["registry", "syncFilesFrom"], flag: "--sync-files-from" },
  syncInterval: { path: ["registry", "syncInterval"], flag: "--sync-interval" },
  syncCa: { path: ["registry", "syncCaFile"], flag: "--sync-ca" },
  syncUsername: { path: ["registry", "syncUsername"], flag: "--sync-username" },
  syncPasswordFile: { path: ["registry", "syncPasswordFile"], flag: "--sync-password-file" },
};

/** A number when `value` is digits, else the text (the schema then names the flag). */
function numberArg(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const EXAMPLES = `
Examples:
  k0rdentd registry
  k0rdentd registry --host 127.0.0.1 --port 5050 --storage ./var/registry
  k0rdentd registry --tls-san registry.example.internal   # the --tls auto certificate
  k0rdentd registry --tls off                              # plain HTTP (not for k0rdent Enterprise)
  k0rdentd registry --htpasswd /etc/k0rdentd/htpasswd --auth-pulls
  k0rdentd registry --htpasswd /etc/k0rdentd/htpasswd --max-login-failures 5
  k0rdentd registry --max-connections 2000 --header-timeout 10s --idle-timeout 5m
  k0rdentd registry --max-uploads 200 --max-uploads-per-client 20 --upload-expiry 30m
  k0rdentd registry --print-systemd-unit > /etc/systemd/system/k0rdentd-registry.service
  k0rdentd registry verify --storage /var/lib/k0rdentd/registry
  k0rdentd registry gc --dry-run
  k0rdentd registry --bundle-path ./airgap-bundle-1.2.3.tar.gz --cosign-key ./cosign.pub
  k0rdentd registry status
  k0rdentd registry add-k0s-binary ./k0s-v1.32.6+k0s.0-amd64 --cosign-key ./cosign.pub
  k0rdentd registry --files-port 0      # no k0s binaries listener
  k0rdentd registry --sync-from https://10.0.0.5:5000 --sync-from https://10.0.0.6:5000
  k0rdentd registry --sync-from https://10.0.0.5:5000 --sync-files-from http://10.0.0.5:8080/k0s
  k0rdentd registry --sync-from https://10.0.0.5:5000 --sync-interval 1m \\
    --sync-ca /etc/k0rdentd/peer-ca.crt --sync-username replica --sync-password-file /etc/k0rdentd/sync.pw
  k0rdentd registry --debug-address 0.0.0.0:5001   # /metrics, /healthz, /readyz for Prometheus
  k0rdentd registry --debug-address "" --no-access-log

Env: K0RDENTD_REGISTRY_HOST, K0RDENTD_REGISTRY_PORT, K0RDENTD_REGISTRY_FILES_PORT,
K0RDENTD_REGISTRY_STORAGE.
Config: registry.host, registry.port, registry.filesPort, registry.debugAddress,
registry.accessLog, registry.prefix, registry.storage, registry.tls.*, registry.auth.*,
registry.limits.*, registry.syncFrom, registry.syncFilesFrom, registry.syncInterval, registry.syncCaFile,
registry.syncUsername, registry.syncPasswordFile.
Replication state per source (last sync, tags and bytes behind, last error): registry status.`;

/** Registers `registry` and its subcommands. */
export function registerRegistry(program: Command): void {
  const registry = program.command("registry")
    .description("Serve the OCI registry (distribution-spec v1.1) from a storage directory")
    .option("--host <address>", "address to listen on (default 0.0.0.0)")
    .option("--port <port>", "port to listen on (default 5000)", numberArg)
    .option(
      "--files-port <port>",
      "plain-HTTP port serving the stored k0s binaries to child clusters; 0: off (default 5080)",
      numberArg,
    )
    .option(
      "--debug-address <host:port>",
      'plain-HTTP /metrics, /healthz and /readyz; "": off (default 127.0.0.1:5001)',
    )
    .option("--no-access-log", "write no log line per request (default: one per request)")
    .option(
      "--prefix <prefix>",
      'repository prefix and URL path of the k0s binaries (default "k0rdent-enterprise")',
    )
    .option("--storage <dir>", `storage directory (default ${HOST.registryStorage})`)
    .addOption(
      new Option(
        "--tls <mode>",
        "TLS: auto (default: create a CA and certificate in storage), or off (plain HTTP)",
      )
        .choices(["off", "auto"]),
    )
    .option("--tls-cert <file>", "serve TLS with this PEM certificate (with --tls-key)")
    .option("--tls-key <file>", "PEM private key of --tls-cert")
    .option("--tls-san <name>", "extra name or address for the --tls auto certificate", collect)
    .option("--htpasswd <file>", "require basic auth (bcrypt htpasswd) for pushes")
    .option("--auth-pulls", "with --htpasswd: require auth for pulls too")
    .option("--read-only", "refuse every write")
    .option(
      "--max-connections <n>",
      "open connections at most (default 1000, fewer if the open-file limit says so)",
      numberArg,
    )
    .option(
      "--header-timeout <duration>",
      "close connections that send no request header in time (default 20s)",
    )
    .option("--idle-timeout <duration>", "close connections idle after a request (default 2m)")
    .option("--max-uploads <n>", "upload sessions open at once (default 1000)", numberArg)
    .option(
      "--max-uploads-per-client <n>",
      "upload sessions open at once from one address (default 100)",
      numberArg,
    )
    .option("--upload-expiry <duration>", "remove upload sessions untouched this long (1h)")
    .option(
      "--max-login-failures <n>",
      "with --htpasswd: failed logins per client address per minute (default 10)",
      numberArg,
    )
    .option(
      "--sync-from <url>",
      "replicate every repository and tag of this registry and keep following it (repeatable)",
      collect,
    )
    .option(
      "--sync-files-from <url>",
      "the k0s binaries of the --sync-from registries, in the same order (default: http://<source host>:<--files-port>/<--prefix>)",
      collect,
    )
    .option("--sync-interval <duration>", "pause between two replication passes (default 30s)")
    .option(
      "--sync-ca <file>",
      "PEM CA of the --sync-from registries (default: system roots + this registry's CA)",
    )
    .option("--sync-username <user>", "basic-auth user on the --sync-from registries")
    .option("--sync-password-file <file>", "file holding the --sync-username password")
    .option("--print-systemd-unit", "print a hardened systemd unit for these flags and exit")
    .option("--bundle-path <file>", "load this air-gap bundle in the background while serving")
    .addOption(
      new Option("--verify [bool]", "check the bundle signature (default true)")
        .argParser(booleanFlag("--verify")),
    )
    .option("--cosign-key <path>", "PEM public key of the bundle signature")
    .addOption(new Option("--cosignKey <path>", "alias of --cosign-key").hideHelp())
    .addHelpText("after", EXAMPLES)
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const overrides = flagOverrides(cmd, SERVE_FLAGS);
      if ((opts.tlsCert || opts.tlsKey) && opts.tls === undefined) {
        overrides.push({ path: ["registry", "tls", "mode"], value: "files", flag: "--tls-cert" });
      }
      const ctx = await commandContext(cmd, overrides);
      const options = serveOptions(ctx.config);
      if (opts.printSystemdUnit) {
        printOut(systemdUnit(unitBinary(), options).trimEnd());
        return;
      }
      if (ctx.dryRun) {
        log.info(
          `Dry run: would serve the registry on ${options.host}:${options.port} from ` +
            `"${options.storage}"` +
            (options.files.port ? ` and k0s binaries on port ${options.files.port}` : "") +
            (options.sync?.from.length ? `, replicating ${options.sync.from.join(", ")}` : "") +
            (options.debugAddress ? `, metrics and health on ${options.debugAddress}` : ""),
        );
        return;
      }
      const r = ctx.config.registry;
      // One storage object for the daemon and its background load.
      const storage = openDiskStorage(options.storage);
      const loading = r.bundlePath
        ? startBackgroundLoad({
          bundle: r.bundlePath,
          storage,
          prefix: r.prefix,
          verify: r.verifySignature ? "native" : "off",
          key: r.cosignKey || undefined,
          runner: ctx.runner,
          signal: ctx.signal,
        })
        : undefined;
      // A bundle load needs more than the serving path (node:crypto, statfs): keep permissions.
      await serveRegistry(
        { ...options, dropPermissions: loading === undefined },
        { runner: ctx.runner, signal: ctx.signal, storage },
      );
      await loading?.done;
    });

  registry.command("status")
    .description(
      "Show the latest bundle load, the bundle versions loaded, the stored k0s binaries and replication (--sync-from)",
    )
    .option("--storage <dir>", `storage directory (default ${HOST.registryStorage})`)
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd registry status\n  k0rdentd registry status --output json",
    )
    .action(async (_opts, cmd: Command) => {
      const ctx = await commandContext(cmd, subcommandOverrides(cmd, STORAGE_FLAG));
      const dir = ctx.config.registry.storage;
      await requireDir(dir);
      const storage = openDiskStorage(dir);
      const status = await readLoadStatus(storage.driver);
      const k0sBinaries = await openK0sBinaryStore(dir).list();
      const inUse = (await readInUse(dir))?.k0rdentVersion;
      const inUseKey = versionKey(inUse);
      const bundles = (await readBundleRecords(storage.driver)).map((r) => ({
        k0rdentVersion: r.k0rdentVersion,
        references: r.refs.length,
        loadedAt: r.loadedAt,
        inUse: inUseKey !== undefined && r.version === inUseKey,
      }));
      const replication = await readSyncStatus(storage);
      printData(
        ctx.output,
        { storage: dir, ...status, k0sBinaries, bundles, inUse, replication },
        () =>
          [
            `Storage:  ${dir}`,
            statusText(status),
            `Bundles loaded (${bundles.length}):`,
            ...bundles.map((b) =>
              `  k0rdent ${b.k0rdentVersion ?? "unknown"}  ${b.references} references  ` +
              `loaded ${b.loadedAt ?? "?"}${b.inUse ? "  (in use)" : ""}`
            ),
            `k0s binaries (${k0sBinaries.length}):`,
            ...k0sBinaries.map((b) =>
              `  ${b.name}  ${formatBytes(b.size)}${b.signature ? "  (.sig)" : ""}`
            ),
            ...(replication ? syncStatusLines(replication) : []),
          ].join("\n"),
      );
    });

  registry.command("add-k0s-binary")
    .argument("<file>", "a k0s release binary named k0s-<version>-<arch>")
    .description("Store a k0s binary for child clusters (served on --files-port)")
    .option("--signature <file>", "its cosign signature (default <file>.sig when present)")
    .option("--storage <dir>", `storage directory (default ${HOST.registryStorage})`)
    .addOption(
      new Option("--verify [bool]", "check the signature with the key (default true)")
        .argParser(booleanFlag("--verify")),
    )
    .option(
      "--cosign-key <path>",
      "PEM public key: the bundle's cosign.pub (env K0RDENTD_COSIGN_KEY)",
    )
    .addOption(new Option("--cosignKey <path>", "alias of --cosign-key").hideHelp())
    .addHelpText(
      "after",
      `
Examples:
  k0rdentd registry add-k0s-binary ./k0s-v1.32.6+k0s.0-amd64 --cosign-key ./cosign.pub
  k0rdentd registry add-k0s-binary /media/k0s-v1.32.6+k0s.0-arm64 \\
    --signature /media/k0s-v1.32.6+k0s.0-arm64.sig --storage ./var/registry --cosign-key ./cosign.pub

The name is kept: child clusters fetch http://<host>:<files-port>/<prefix>/<name>.
A running daemon serves the file at once. A signature that does not match is an error and
nothing is stored; a binary without a signature is stored with a warning.`,
    )
    .action(async (file: string, opts: { signature?: string }, cmd: Command) => {
      const ctx = await commandContext(
        cmd,
        subcommandOverrides(cmd, { ...STORAGE_FLAG, ...SIGNATURE_FLAGS }),
      );
      const r = ctx.config.registry;
      if (ctx.dryRun) {
        log.info(`Dry run: would store k0s binary "${file}" in "${r.storage}"`);
        return;
      }
      const stored = await addK0sBinary({
        file,
        store: openK0sBinaryStore(r.storage),
        verify: r.verifySignature,
        key: r.cosignKey || undefined,
        signature: opts.signature,
      });
      printData(ctx.output, stored, () => k0sStoredLine(file, stored));
    });

  registry.command("verify")
    .description("Re-hash every blob and check every manifest and tag; exit 1 on damage")
    .option("--storage <dir>", `storage directory (default ${HOST.registryStorage})`)
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd registry verify\n  k0rdentd registry verify --storage ./var/registry --output json",
    )
    .action(async (_opts, cmd: Command) => {
      const ctx = await commandContext(cmd, subcommandOverrides(cmd, STORAGE_FLAG));
      const dir = ctx.config.registry.storage;
      await requireDir(dir);
      let progress: Progress | undefined;
      const report = await verifyStorage(openDiskStorage(dir), (done, total) => {
        progress ??= new Progress({
          label: "Verifying blobs",
          total,
          unit: "bytes",
          mode: progressMode(ctx.output),
        });
        progress.set(done);
      });
      progress?.done(`Verified ${formatBytes(report.bytes)}`);
      printData(ctx.output, report, () =>
        [
          `Storage "${dir}": ${report.blobs} blobs (${formatBytes(report.bytes)}), ` +
          `${report.repositories} repositories, ${report.manifests} manifests, ` +
          `${report.tags} tags, ${report.uploads} uploads in progress`,
          ...report.problems,
        ].join("\n"));
      if (report.problems.length) {
        throw new UserError(`Registry storage "${dir}" has ${report.problems.length} problem(s)`);
      }
    });

  registry.command("gc")
    .description(
      "Remove the tags of old bundles, then blobs no manifest references and stale uploads " +
        "(safe while serving)",
    )
    .option("--storage <dir>", `storage directory (default ${HOST.registryStorage})`)
    .option(
      "--keep-bundles <n>",
      "keep the bundles of the n newest k0rdent versions and the one in use (default 2)",
    )
    .addHelpText(
      "after",
      `
Examples:
  k0rdentd registry gc --dry-run
  k0rdentd registry gc --keep-bundles 3 --dry-run --output json
  k0rdentd registry gc --storage ./var/registry

Tags that only bundles of older k0rdent versions (SemVer order) loaded are removed, with the
manifests and k0s binaries only they brought; then blobs nothing references any more (older
than an hour). Kept: the tags of the newest n versions and of the version install/upgrade
marked in use, tags pushed by users (no bundle recorded them) and tags moved since the load.
--dry-run lists the tags and the bytes a run would free.`,
    )
    .action(async (opts: { keepBundles?: string }, cmd: Command) => {
      const keep = keepBundlesArg(opts.keepBundles ?? "2");
      const ctx = await commandContext(cmd, subcommandOverrides(cmd, STORAGE_FLAG));
      const dir = ctx.config.registry.storage;
      await requireDir(dir);
      const report = await collectOldBundles(dir, { dryRun: ctx.dryRun, keep });
      printData(ctx.output, report, () => gcText(report));
    });
}

/** `--keep-bundles`: an integer >= 1. */
function keepBundlesArg(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(
      `Invalid --keep-bundles "${value}": expected a whole number of at least 1`,
    );
  }
  return Number(value);
}

/** The text of a `registry gc` report. */
function gcText(report: RetentionReport): string {
  const verb = report.dryRun ? "Would remove" : "Removed";
  const b = report.bundles;
  const kept = [...b.kept, ...(b.unversionedJournals ? ["bundles of unknown version"] : [])];
  return [
    b.skipped
      ? `Bundles: none collected, ${b.skipped}; rerun gc once it has finished`
      : `Bundles kept: ${kept.join(", ") || "none recorded"}` +
        (b.inUse ? ` (in use: ${b.inUse})` : "") +
        (b.collected.length ? `; collected: ${b.collected.join(", ")}` : ""),
    ...b.tags.map((t) => `${verb} tag ${t.repository}:${t.tag} (bundle ${t.versions.join(", ")})`),
    ...b.movedTags.map((t) => `Kept tag ${t.repository}:${t.tag}: moved since the bundle load`),
    ...b.k0sBinaries.map((k) => `${verb} k0s binary ${k.name} (${formatBytes(k.size)})`),
    ...report.blobs.map((x) => `${verb} blob ${x.digest} (${formatBytes(x.size)})`),
    `${verb} ${b.tags.length} tags and ${b.manifests} manifests of ${b.collected.length} old ` +
    `bundle versions, ${b.k0sBinaries.length} k0s binaries (${formatBytes(b.k0sBytes)})`,
    `${verb} ${report.blobs.length} blobs (${formatBytes(report.bytes)}), ` +
    `${report.links} links, ${report.uploads.length} stale uploads and ` +
    `${report.tempFiles} temp files`,
  ].join("\n");
}

/** Flags of a subcommand; commander hands them to `registry` when both define them. */
function subcommandOverrides(
  cmd: Command,
  table: Record<string, { path: readonly string[]; flag: string }>,
) {
  return [
    ...(cmd.parent ? flagOverrides(cmd.parent, table) : []),
    ...flagOverrides(cmd, table),
  ];
}

async function requireDir(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return;
  } catch {
    // Reported below.
  }
  throw new UserError(`Registry storage "${dir}" does not exist or is not a directory`);
}

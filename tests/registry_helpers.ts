/**
 * Helpers for the registry's socket tests: build OCI image layouts with code, start the
 * registry daemon as a subprocess with exactly `REGISTRY_SERVE_PERMISSIONS`, run real skopeo.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { digestOf } from "../src/registry/digest.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { REGISTRY_SERVE_PERMISSIONS } from "../src/permissions.ts";
import { freePort } from "./helpers/free_port.ts";

const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));
const enc = new TextEncoder();

/** A manifest written into a layout: its digest, bytes and media type. */
export interface LayoutManifest {
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
}

/** Writes an OCI image layout skeleton (`oci-layout`, `blobs/sha256`). */
async function initLayout(dir: string): Promise<void> {
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await Deno.writeTextFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
}

async function writeBlob(dir: string, bytes: Uint8Array): Promise<string> {
  const digest = digestOf(bytes);
  await Deno.writeFile(join(dir, "blobs", "sha256", digest.slice(7)), bytes);
  return digest;
}

/** Random bytes of `size` (crypto.getRandomValues in 64 KiB steps). */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** Gzip of `bytes` (skopeo keeps gzip layers as they are instead of compressing them). */
async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Writes an image (config + gzip layers) into the layout; returns its manifest. A layer is
 * given by its uncompressed content (a tar, for an image containerd can unpack) or by a size
 * (random data of about that size). `diff_ids` are the digests of the uncompressed layers.
 */
export async function writeImage(
  dir: string,
  layerContents: (number | Uint8Array)[],
  platform = { os: "linux", architecture: "amd64" },
): Promise<LayoutManifest> {
  await initLayout(dir);
  const layers = [];
  const diffIds = [];
  for (const content of layerContents) {
    const raw = typeof content === "number" ? randomBytes(content) : content;
    const bytes = await gzip(raw);
    diffIds.push(digestOf(raw));
    layers.push({
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: await writeBlob(dir, bytes),
      size: bytes.length,
    });
  }
  const config = enc.encode(JSON.stringify({
    ...platform,
    rootfs: { type: "layers", diff_ids: diffIds },
    config: {},
  }));
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: await writeBlob(dir, config),
      size: config.length,
    },
    layers,
  }));
  return {
    digest: await writeBlob(dir, manifest),
    bytes: manifest,
    mediaType: MEDIA_TYPES.ociManifest,
  };
}

/** Writes an image index over `children` into the layout; returns it. */
export async function writeIndex(
  dir: string,
  children: { manifest: LayoutManifest; platform: { os: string; architecture: string } }[],
): Promise<LayoutManifest> {
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: children.map((c) => ({
      mediaType: c.manifest.mediaType,
      digest: c.manifest.digest,
      size: c.manifest.bytes.length,
      platform: c.platform,
    })),
  }));
  return { digest: await writeBlob(dir, bytes), bytes, mediaType: MEDIA_TYPES.ociIndex };
}

/** Writes the layout's `index.json` naming `manifest` with tag `tag`. */
export async function tagLayout(dir: string, tag: string, manifest: LayoutManifest) {
  await Deno.writeTextFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.bytes.length,
        annotations: { "org.opencontainers.image.ref.name": tag },
      }],
    }),
  );
}

/** A registry daemon running as a subprocess. */
export interface Daemon {
  port: number;
  child: Deno.ChildProcess;
  /** Everything it logged so far. */
  stderr(): string;
  /** Sends `signal` once (a test that signals the daemon itself uses this). */
  signal(signal: Deno.Signal): void;
  /** Sends `signal` unless one was sent already, and waits for the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** Stops reading its stderr: the pipe fills up, as when journald does not keep up. */
  pauseStderr(): void;
  /** Reads its stderr again. */
  resumeStderr(): void;
}

/** Environment for CLI subprocesses: a clean one without the host's K0RDENTD_* settings. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    K0RDENTD_CONFIG_FILE: "/dev/null",
    ...extra,
  };
}

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** Open-file limit of the daemon (`ulimit -n` in a shell that then execs it). */
  nofile?: number;
}

/**
 * Starts `main.ts registry <args>` with exactly {@link REGISTRY_SERVE_PERMISSIONS} (as the
 * `registry` deno task does) and waits until it logs that it is serving. Plain HTTP
 * (`--tls off`) unless `args` choose TLS: the daemon's default is `--tls auto`. The k0s binaries
 * listener gets a free port too unless `args` set `--files-port` (daemons run in parallel).
 */
export async function startDaemon(
  args: string[],
  port = freePort(),
  options: DaemonOptions = {},
): Promise<Daemon> {
  const tls = args.some((a) => a === "--tls" || a.startsWith("--tls=") || a === "--tls-cert");
  const files = args.includes("--files-port") ? [] : ["--files-port", String(freePort())];
  // The metrics listener on a port of its own too (its default, 127.0.0.1:5001, is one for all).
  const debug = args.includes("--debug-address") ? [] : ["--debug-address", "127.0.0.1:0"];
  const argv = [
    Deno.execPath(),
    "run",
    "--quiet",
    ...REGISTRY_SERVE_PERMISSIONS,
    MAIN_TS,
    "registry",
    "--port",
    String(port),
    ...(tls ? [] : ["--tls", "off"]),
    ...files,
    ...debug,
    ...args,
  ];
  if (options.nofile !== undefined) {
    argv.unshift("sh", "-c", 'ulimit -n "$0" && exec "$@"', String(options.nofile));
  }
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: cleanEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let paused: Promise<void> | undefined;
  let resume = () => {};
  const pump = (async () => {
    while (true) {
      await paused;
      const { done, value } = await reader.read();
      if (done) break;
      log += value;
    }
  })();
  let signalled = false;
  const deadline = Date.now() + 30_000;
  while (!/Registry serving/.test(log)) {
    const exited = await Promise.race([
      child.status.then(() => true),
      new Promise<false>((r) => setTimeout(() => r(false), 50)),
    ]);
    if (exited || Date.now() > deadline) {
      await pump;
      throw new Error(`Registry did not start: ${log}`);
    }
  }
  return {
    port,
    child,
    stderr: () => log,
    signal(signal: Deno.Signal) {
      signalled = true;
      child.kill(signal);
    },
    pauseStderr() {
      paused ??= new Promise((r) => resume = r);
    },
    resumeStderr() {
      paused = undefined;
      resume();
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      // A second SIGTERM after the daemon's own shutdown could land after it removed its
      // handlers and kill it with 143: a test that signalled already only waits.
      if (!signalled) {
        try {
          child.kill(signal);
        } catch {
          // Already gone.
        }
      }
      const status = await child.status;
      paused = undefined;
      resume();
      await pump;
      return status.code;
    },
  };
}

/** Runs `main.ts <args>` (with the registry permissions) to completion. */
export async function runRegistryCli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...REGISTRY_SERVE_PERMISSIONS, MAIN_TS, ...args],
    env: cleanEnv(env),
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs real skopeo; throws with its stderr unless `allowFail`. */
export async function skopeo(args: string[], allowFail = false) {
  const out = await new Deno.Command("skopeo", {
    args,
    stdin: "null",
    env: { HOME: Deno.env.get("HOME") ?? "/tmp", PATH: Deno.env.get("PATH") ?? "/usr/bin" },
    clearEnv: true,
  }).output();
  const dec = new TextDecoder();
  const res = { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  if (!allowFail && res.code !== 0) {
    throw new Error(`skopeo ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
  }
  return res;
}

/** `http://HOST:PORT` of the daemon's debug listener, from its log line. */
export function debugBase(daemon: Daemon): string {
  const m = /metrics and health at (http:\/\/[^ ]+) /.exec(daemon.stderr());
  if (!m) throw new Error(`no debug listener in:\n${daemon.stderr()}`);
  return m[1];
}

/**
 * Downloads k0s and helm releases and checks them against SHA-256 sums (pinned in `pins.ts`,
 * given on the command line or published beside the file): the air-gap build caches them under
 * `assets/build/downloads/` (reused while their digest still matches); install, upgrade and the
 * online helm fallback download through {@link downloadVerified} at run time.
 */
import { basename, join } from "node:path";
import { createTarDecoder } from "modern-tar";
import { MeasureStream } from "../assets/measure_stream.ts";
import { errorMessage, UserError } from "../errors.ts";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { log } from "../log/logger.ts";
import type { OutputFormat } from "../log/output.ts";
import { Progress, progressMode } from "../log/progress.ts";
import { hashFile } from "../hash/sha.ts";
import {
  HELM_TARBALL_SHA256,
  helmUrl,
  K0S_SHA256,
  k0sUrl,
  OFFICIAL_SOURCES,
  type ReleaseArch,
  type ToolSources,
} from "./pins.ts";

/** Options of {@link fetchK0s} and {@link fetchHelm}. */
export interface FetchToolOptions {
  version: string;
  arch: ReleaseArch;
  /** Download cache dir. */
  dir: string;
  /** Expected SHA-256 (hex); default the pin for version and arch. */
  sha256?: string;
  sources?: ToolSources;
  signal?: AbortSignal;
  /** Appended to the error when the server cannot be reached, e.g. how to do without it. */
  offlineHint?: string;
  /** Progress as text or JSON events; default text. */
  output?: OutputFormat;
}

const HEX64 = /^[0-9a-f]{64}$/;

function expectedSum(
  tool: string,
  flag: string,
  table: Readonly<Record<string, Readonly<Record<string, string>>>>,
  options: FetchToolOptions,
): string {
  const sum = options.sha256 ?? table[options.version]?.[options.arch];
  if (sum === undefined) {
    throw new UserError(
      `No pinned SHA-256 for ${tool} ${options.version} (${options.arch}): ` +
        `pass ${flag} with the published sum, add it to src/releases/pins.ts, ` +
        `or build from local files with --k0s-binary and --helm-binary`,
    );
  }
  if (!HEX64.test(sum)) throw new UserError(`Invalid ${flag} "${sum}": expected 64 hex digits`);
  return sum;
}

/** Options of {@link downloadVerified}. */
export interface DownloadVerifiedOptions {
  signal?: AbortSignal;
  /** Appended to the error when the server cannot be reached. */
  offlineHint?: string;
  /** Mode of the written file; default 0o644. */
  mode?: number;
  /** Progress as text or JSON events; default text. */
  output?: OutputFormat;
}

/**
 * Downloads `url` to `dest` unless `dest` already has `sha256`; checks the digest before the
 * rename, so a failed or mismatching download leaves nothing at `dest`.
 */
export async function downloadVerified(
  url: string,
  dest: string,
  sha256: string,
  options: DownloadVerifiedOptions = {},
): Promise<void> {
  const cached = await hashFile(dest).catch((err) => {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  });
  if (cached === sha256) {
    log.info(`Using cached ${dest}`);
    return;
  }
  log.info(`Downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url, { signal: options.signal });
  } catch (err) {
    const hint = options.offlineHint ? ` (${options.offlineHint})` : "";
    throw new UserError(`Cannot download "${url}": ${errorMessage(err)}${hint}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new UserError(`Cannot download "${url}": HTTP ${response.status} ${response.statusText}`);
  }
  const progress = new Progress({
    label: `Downloading ${basename(dest)}`,
    total: Number(response.headers.get("content-length")) || 0,
    mode: progressMode(options.output ?? "text"),
  });
  const check = new MeasureStream({
    onChunk: (n) => progress.set(n),
    onEnd: (m) => {
      if (m.sha256 !== sha256) {
        throw new UserError(`SHA-256 mismatch: got ${m.sha256}, expected ${sha256}`);
      }
    },
  });
  try {
    await writeFileAtomic(dest, response.body.pipeThrough(check), {
      mode: options.mode ?? 0o644,
      mkdirMode: 0o755,
    });
    progress.done(`Downloaded ${dest} (sha256:${sha256})`);
  } catch (err) {
    throw new UserError(`Cannot download "${url}": ${errorMessage(err)}`);
  }
}

/** Downloads `k0s-<V>-<arch>`, checks its SHA-256 and returns the path of the binary. */
export async function fetchK0s(options: FetchToolOptions): Promise<string> {
  const sha256 = expectedSum("k0s", "--k0s-sha256", K0S_SHA256, options);
  const url = k0sUrl(options.sources ?? OFFICIAL_SOURCES, options.version, options.arch);
  const dest = join(options.dir, `k0s-${options.version}-${options.arch}`);
  await downloadVerified(url, dest, sha256, options);
  return dest;
}

/**
 * Downloads the helm release tarball, checks its SHA-256 and unpacks
 * `linux-<arch>/helm` from it; returns the path of the binary.
 */
export async function fetchHelm(options: FetchToolOptions): Promise<string> {
  const sha256 = expectedSum("helm", "--helm-sha256", HELM_TARBALL_SHA256, options);
  const { arch } = options;
  const url = helmUrl(options.sources ?? OFFICIAL_SOURCES, options.version, arch);
  const tarball = join(options.dir, `helm-${options.version}-linux-${arch}.tar.gz`);
  await downloadVerified(url, tarball, sha256, options);
  const member = `linux-${arch}/helm`;
  const dest = join(options.dir, `helm-${options.version}-${arch}`);
  const file = await Deno.open(tarball);
  const entries = file.readable.pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(createTarDecoder());
  try {
    for await (const entry of entries) {
      if (entry.header.name.replace(/^\.\//, "") === member && entry.header.type !== "directory") {
        await writeFileAtomic(dest, entry.body, { mode: 0o755 });
        return dest;
      }
      await entry.body.cancel();
    }
  } catch (err) {
    throw new UserError(`Cannot unpack "${tarball}": ${errorMessage(err)}`);
  }
  throw new UserError(`Cannot unpack "${tarball}": it holds no "${member}"`);
}

/**
 * Downloads a k0s release binary (`<base>/<V>/k0s-<V>-<arch>`) to a file,
 * streaming, with progress, and checks it against the release's
 * `sha256sums.txt` before anything uses it (the download itself is the
 * `downloadVerified` of `releases/download.ts`).
 */
import { k0sUrl, OFFICIAL_SOURCES } from "../releases/pins.ts";
import { downloadVerified } from "../releases/download.ts";
import { UserError } from "../errors.ts";
import { readLimited } from "../registry/limits.ts";
import { type OutputFormat } from "../log/output.ts";

/** The file name of the k0s binary for a version and architecture. */
export function k0sAssetName(version: string, arch: string): string {
  return `k0s-${version}-${arch}`;
}

/** The URL of a release file (`sha256sums.txt`; the binary's is `k0sUrl` of `releases/pins.ts`). */
export function k0sReleaseUrl(base: string, version: string, file: string): string {
  return `${base.replace(/\/+$/, "")}/${encodeURIComponent(version)}/${encodeURIComponent(file)}`;
}

/** Finds the digest of `file` in a `sha256sums.txt` body. */
export function findChecksum(sums: string, file: string): string | null {
  for (const line of sums.split("\n")) {
    const m = /^([0-9a-f]{64})\s+\*?(.+?)\s*$/i.exec(line);
    if (m && m[2].split("/").pop() === file) return m[1].toLowerCase();
  }
  return null;
}

/** Options of {@link downloadK0s}. */
export interface DownloadOptions {
  baseUrl: string;
  version: string;
  arch: string;
  /** Where to write the verified binary (an atomic write; nothing is left on failure). */
  target: string;
  output: OutputFormat;
  signal: AbortSignal;
}

async function get(url: string, signal: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new UserError(`Cannot download "${url}": ${(err as Error).message}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new UserError(`Cannot download "${url}": HTTP ${res.status}`);
  }
  return res;
}

/** `sha256sums.txt` read at most (a line per release asset: a few KiB). */
const MAX_SUMS_BYTES = 1024 * 1024;

/** The hex SHA-256 of `k0s-<version>-<arch>` that the release's `sha256sums.txt` lists. */
export async function k0sReleaseChecksum(
  baseUrl: string,
  version: string,
  arch: string,
  signal: AbortSignal,
): Promise<string> {
  const file = k0sAssetName(version, arch);
  const sumsUrl = k0sReleaseUrl(baseUrl, version, "sha256sums.txt");
  const res = await get(sumsUrl, signal);
  const sums = new TextDecoder().decode(
    await readLimited(
      res.body,
      MAX_SUMS_BYTES,
      () => new UserError(`Cannot verify k0s: "${sumsUrl}" has more than ${MAX_SUMS_BYTES} bytes`),
    ),
  );
  const expected = findChecksum(sums, file);
  if (!expected) throw new UserError(`Cannot verify k0s: "${sumsUrl}" lists no "${file}"`);
  return expected;
}

/** Downloads, verifies and writes the k0s binary to `options.target` (mode 0755). */
export async function downloadK0s(options: DownloadOptions): Promise<void> {
  const expected = await k0sReleaseChecksum(
    options.baseUrl,
    options.version,
    options.arch,
    options.signal,
  );
  const url = k0sUrl(
    { ...OFFICIAL_SOURCES, k0sBase: options.baseUrl },
    options.version,
    options.arch,
  );
  await downloadVerified(url, options.target, expected, {
    signal: options.signal,
    mode: 0o755,
    output: options.output,
  });
}

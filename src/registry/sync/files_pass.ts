/**
 * One replication pass of the k0s binaries a source serves on its files listener
 * (`registry --sync-from`): reads the source's `<files URL>/SHA256SUMS`, and copies each binary
 * (and its `.sig`) this storage lacks or holds with another SHA-256, streamed into the uploads
 * area and moved into place only when its SHA-256 matches the listing. A file whose bytes do not
 * match is refused and nothing of it is stored.
 */
import { errorMessage } from "../../errors.ts";
import { hashBytes, IncrementalHash } from "../../hash/sha.ts";
import { K0S_SUMS_FILE } from "../k0s_files.ts";
import { readLimited } from "../limits.ts";
import { isK0sBinaryName, isK0sFileName, SIGNATURE_SUFFIX } from "../names.ts";
import type { K0sBinaryStore } from "../storage/k0s_binaries.ts";

/** `SHA256SUMS` bytes read at most (a line per file: thousands of binaries). */
const MAX_SUMS_BYTES = 1024 * 1024;
/** A `.sig` read at most. */
const MAX_SIGNATURE_BYTES = 64 * 1024;
/** A k0s binary copied at most (release binaries are about 250 MB). */
export const MAX_K0S_BINARY_BYTES = 2 * 1024 * 1024 * 1024;

/** The outcome of a files pass. */
export interface FilesPassResult {
  /** Binaries the source lists. */
  files: number;
  /** Binaries copied by this pass. */
  copied: string[];
  /** What went wrong, one line each (the pass goes on with the other files). */
  errors: string[];
}

/** Parses `sha256sum` lines (`<hex>  <name>`); names that are no k0s file are errors. */
export function parseSha256Sums(text: string): { sums: Map<string, string>; errors: string[] } {
  const sums = new Map<string, string>();
  const errors: string[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m || !isK0sFileName(m[2])) {
      errors.push(`${K0S_SUMS_FILE} line "${line.slice(0, 200)}": not "<sha256>  <k0s file>"`);
      continue;
    }
    sums.set(m[2], m[1]);
  }
  return { sums, errors };
}

/** GET of `url` that must answer 200; the response's body is the caller's to read. */
async function get(url: string, signal: AbortSignal): Promise<Response> {
  const res = await fetch(url, { signal });
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    throw new Error(`GET ${url}: HTTP ${res.status}`);
  }
  return res;
}

/**
 * Copies the k0s binaries of the files listener at `base` (`http://HOST:PORT/<prefix>`) that
 * `store` lacks; throws only when the listing cannot be read.
 */
export async function syncK0sFiles(
  base: string,
  store: K0sBinaryStore,
  options: {
    signal: AbortSignal;
    /** The listing and a `.sig` fail after this long (default 60 s). */
    requestTimeoutMs?: number;
    /** A binary that delivers nothing for this long fails (default 60 s). */
    stallTimeoutMs?: number;
  },
): Promise<FilesPassResult> {
  const requestSignal = () =>
    AbortSignal.any([options.signal, AbortSignal.timeout(options.requestTimeoutMs ?? 60_000)]);
  const listing = await get(`${base}/${K0S_SUMS_FILE}`, requestSignal());
  const text = new TextDecoder().decode(
    await readLimited(
      listing.body,
      MAX_SUMS_BYTES,
      () => new Error(`${K0S_SUMS_FILE} of ${base} is larger than ${MAX_SUMS_BYTES} bytes`),
    ),
  );
  const { sums, errors } = parseSha256Sums(text);
  const binaries = [...sums.keys()].filter(isK0sBinaryName);
  const copied: string[] = [];
  for (const name of binaries) {
    const sha256 = sums.get(name)!;
    const sigName = name + SIGNATURE_SUFFIX;
    const sigSha = sums.get(sigName);
    if (
      await store.sha256(name) === sha256 &&
      (sigSha === undefined || await store.sha256(sigName) === sigSha)
    ) continue;
    try {
      let signature: Uint8Array | undefined;
      if (sigSha !== undefined) {
        const res = await get(`${base}/${encodeURIComponent(sigName)}`, requestSignal());
        signature = await readLimited(
          res.body,
          MAX_SIGNATURE_BYTES,
          () => new Error(`larger than ${MAX_SIGNATURE_BYTES} bytes`),
        );
        const hex = hashBytes(signature);
        if (hex !== sigSha) {
          throw new Error(`the source sent "${sigName}" with SHA-256 ${hex}, not ${sigSha}`);
        }
      }
      // The binary: no overall timeout (250 MB over a slow link), but one that delivers nothing
      // for the stall timeout fails; the daemon's signal stops it too.
      const stallMs = options.stallTimeoutMs ?? 60_000;
      const stall = new AbortController();
      let timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
      const hash = new IncrementalHash();
      let size = 0;
      let staged;
      try {
        const res = await get(
          `${base}/${encodeURIComponent(name)}`,
          AbortSignal.any([options.signal, stall.signal]),
        );
        staged = await store.stage(name, res.body!, (chunk) => {
          clearTimeout(timer);
          timer = setTimeout(() => stall.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
          size += chunk.length;
          if (size > MAX_K0S_BINARY_BYTES) {
            throw new Error(`the source sent more than ${MAX_K0S_BINARY_BYTES} bytes`);
          }
          hash.update(chunk);
        });
      } finally {
        clearTimeout(timer);
      }
      const hex = hash.hex();
      if (hex !== sha256) {
        await staged.discard();
        throw new Error(`the source sent SHA-256 ${hex}, not ${sha256} as listed (refused)`);
      }
      await staged.commit(signature);
      copied.push(name);
    } catch (err) {
      if (options.signal.aborted) throw options.signal.reason;
      errors.push(`k0s binary "${name}": ${errorMessage(err)}`);
    }
  }
  return { files: binaries.length, copied, errors };
}

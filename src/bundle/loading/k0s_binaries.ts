/**
 * k0s binaries for child clusters, which the vendor ships beside the bundle (or a bundle may
 * hold) as `k0s-<version>-<arch>` with a cosign `.sig` made with the bundle's key. They go into
 * the registry storage (`files/k0s/`, served by the daemon on `--files-port`) under their
 * unchanged names: {@link addK0sBinary} stores one file (`registry add-k0s-binary`, and the
 * ones lying beside a bundle, {@link addSiblingK0sBinaries}); {@link K0sFileSink} stores those
 * inside a bundle during the load's one pass. A binary becomes visible only once its signature
 * (when there is one and checking is on) has matched; otherwise nothing is stored.
 */
import type { FreeSpaceGuard } from "./free_space.ts";
import type { KeyObject } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { errorMessage, UserError } from "../../errors.ts";
import { pathExists } from "../../fsx/exists.ts";
import { log } from "../../log/logger.ts";
import { isK0sBinaryName, SIGNATURE_SUFFIX } from "../../registry/names.ts";
import type { K0sBinaryStore, StagedK0sBinary } from "../../registry/storage/k0s_binaries.ts";
import {
  decodeSignature,
  MAX_SIGNATURE_BYTES,
  readPublicKey,
  readSignatureFile,
  SignatureCheck,
  type SignedFile,
} from "../reading/signature.ts";
import { bundleError } from "../reading/source.ts";
import { skipBody } from "../reading/tar_walk.ts";

/** How a stored binary's signature was treated. */
export type K0sSignatureState = "verified" | "unchecked" | "none";

/** A k0s binary stored (or found already stored) in the registry storage. */
export interface StoredK0sBinary {
  name: string;
  size: number;
  signature: K0sSignatureState;
  /** True when the same binary and signature were stored already (nothing was written). */
  present?: boolean;
}

/** Options of {@link addK0sBinary}. */
export interface AddK0sBinaryOptions {
  /** The binary, named `k0s-<version>-<arch>`. */
  file: string;
  /** The k0s binaries of the registry storage (`openK0sBinaryStore(dir)`). */
  store: K0sBinaryStore;
  /** Check the signature (when there is one) with `key`; false is `--verify=false`. */
  verify: boolean;
  /** PEM public key (the bundle's cosign.pub). */
  key?: string;
  /** Detached signature; default `<file>.sig` when that exists. */
  signature?: string;
}

const NAME_HINT = "k0s-<version>-<arch> such as k0s-v1.32.6+k0s.0-amd64 (arch amd64, arm64 or arm)";

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * True when `name` is stored with `size` bytes and the signature `raw` beside it, and (given a
 * key) the stored bytes match that signature: storing it again would change nothing.
 */
async function alreadyStored(
  store: K0sBinaryStore,
  name: string,
  size: number,
  raw: Uint8Array,
  check?: SignatureCheck,
): Promise<boolean> {
  const stored = await store.readSignature(name);
  if (!stored || !equalBytes(stored, raw) || (await store.stat(name))?.size !== size) return false;
  if (!check) return true;
  const body = await store.open(name);
  if (!body) return false;
  for await (const chunk of body) check.update(chunk);
  return check.verify();
}

/** Stores one k0s binary (see the module comment); one clear line on bad input. */
export async function addK0sBinary(options: AddK0sBinaryOptions): Promise<StoredK0sBinary> {
  const { file: path } = options;
  const name = basename(path);
  const file: SignedFile = {
    kind: "k0s binary",
    path,
    withoutCheck: "store it with its signature unchecked",
  };
  if (!isK0sBinaryName(name)) {
    throw new UserError(
      `Cannot add k0s binary "${path}": the file name must be ${NAME_HINT}, as child clusters ` +
        `download it by that name`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    const detail = err instanceof Deno.errors.NotFound ? "no such file" : errorMessage(err);
    throw new UserError(`Cannot read k0s binary "${path}": ${detail}`);
  }
  if (!info.isFile) throw new UserError(`Cannot read k0s binary "${path}": not a regular file`);
  const sigPath = options.signature ??
    (await pathExists(path + SIGNATURE_SUFFIX) ? path + SIGNATURE_SUFFIX : undefined);
  let raw: Uint8Array | undefined;
  let check: SignatureCheck | undefined;
  let state: K0sSignatureState = "none";
  if (sigPath) {
    const key = options.verify ? await readPublicKey(file, options.key) : undefined;
    const sig = await readSignatureFile(file, sigPath);
    raw = sig.raw;
    if (key) {
      check = new SignatureCheck(key, sig.signature);
      state = "verified";
    } else {
      log.warn(`Not checking the signature of k0s binary "${path}" (--verify=false)`);
      state = "unchecked";
    }
  } else {
    log.warn(
      `k0s binary "${path}" has no signature (no --signature, no "${name}${SIGNATURE_SUFFIX}" ` +
        "beside it); storing it unchecked",
    );
  }
  const store = options.store;
  const failed = (err: unknown) =>
    new UserError(
      `Cannot store k0s binary "${path}" in "${store.driver.location}": ${errorMessage(err)}`,
      { cause: err },
    );
  try {
    const recheck = check && new SignatureCheck(check.key, check.signature);
    if (raw && await alreadyStored(store, name, info.size, raw, recheck)) {
      return { name, size: info.size, signature: state, present: true };
    }
  } catch (err) {
    throw failed(err);
  }
  let staged: StagedK0sBinary;
  try {
    const source = await Deno.open(path);
    staged = await store.stage(name, source.readable, check && ((c) => check.update(c)));
  } catch (err) {
    throw failed(err);
  }
  if (check && !check.verify()) {
    await staged.discard();
    throw new UserError(
      `Signature check of k0s binary "${path}" failed: the signature "${sigPath}" does not ` +
        `match the file and key "${options.key}"; nothing was stored`,
    );
  }
  try {
    await staged.commit(raw);
  } catch (err) {
    throw failed(err);
  }
  return { name, size: staged.size, signature: state };
}

/**
 * Stores the k0s binaries lying in the bundle's directory (`/x/k0s-v...-amd64` beside
 * `/x/airgap-bundle-1.2.3.tar.gz`, each with its `.sig` when it has one), as the vendor ships
 * them; returns them (empty when there are none).
 */
export async function addSiblingK0sBinaries(
  bundle: string,
  options: Omit<AddK0sBinaryOptions, "file" | "signature">,
): Promise<StoredK0sBinary[]> {
  const dir = dirname(bundle);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && isK0sBinaryName(e.name)) names.push(e.name);
    }
  } catch (err) {
    throw new UserError(
      `Cannot list the directory "${dir}" of bundle "${bundle}": ${errorMessage(err)}`,
    );
  }
  const out: StoredK0sBinary[] = [];
  for (const name of names.sort()) {
    const stored = await addK0sBinary({ ...options, file: join(dir, name) });
    log.info(k0sStoredLine(join(dir, name), stored));
    out.push(stored);
  }
  return out;
}

/** One line saying what happened to a k0s binary. */
export function k0sStoredLine(source: string, b: StoredK0sBinary): string {
  const how = b.signature === "verified"
    ? "signature verified"
    : b.signature === "unchecked"
    ? "signature not checked"
    : "no signature";
  return `${
    b.present ? "Already stored" : "Stored"
  } k0s binary "${b.name}" from "${source}" (${how})`;
}

interface InBundleBinary {
  path: string;
  staged: StagedK0sBinary;
  check?: SignatureCheck;
}

/**
 * Stores the k0s binaries met in a bundle's pass: each streams into the storage's uploads area
 * (hashed for its signature when a key is given) and its `.sig` is kept; {@link commit} checks
 * them and makes them visible, {@link discard} drops them (a failed or unverified load).
 */
export class K0sFileSink {
  readonly #binaries = new Map<string, InBundleBinary>();
  readonly #signatures = new Map<string, { path: string; raw: Uint8Array }>();

  /**
   * @param key the bundle's public key to check each binary's `.sig` with, when checking is on.
   * @param keyPath its path, for messages.
   * @param guard the load's free-space guard: each binary claims its size before it is staged.
   */
  constructor(
    readonly store: K0sBinaryStore,
    readonly bundle: string,
    readonly key?: KeyObject,
    readonly keyPath?: string,
    readonly guard?: FreeSpaceGuard,
  ) {}

  /** Consumes the bundle file at `path` (a k0s binary or its `.sig`, by its base name). */
  async put(path: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    const base = path.split("/").pop()!;
    const isSig = base.endsWith(SIGNATURE_SUFFIX);
    const name = isSig ? base.slice(0, -SIGNATURE_SUFFIX.length) : base;
    const other = (isSig ? this.#signatures : this.#binaries).get(name)?.path;
    if (other !== undefined) {
      await skipBody(body);
      throw bundleError(this.bundle, `files "${other}" and "${path}" are both named "${base}"`);
    }
    if (isSig) {
      if (size > MAX_SIGNATURE_BYTES) {
        await skipBody(body);
        throw bundleError(this.bundle, `"${path}" is larger than ${MAX_SIGNATURE_BYTES} bytes`);
      }
      this.#signatures.set(name, {
        path,
        raw: new Uint8Array(await new Response(body).arrayBuffer()),
      });
      return;
    }
    const check = this.key ? new SignatureCheck(this.key) : undefined;
    await this.guard?.claim(size);
    const staged = await this.store.stage(name, body, check && ((c) => check.update(c)));
    this.#binaries.set(name, { path, staged, check });
  }

  /**
   * Checks each binary against its `.sig` (given a key) and moves them all into place; on a
   * mismatch nothing is stored and a UserError names the file.
   */
  async commit(): Promise<StoredK0sBinary[]> {
    const out: StoredK0sBinary[] = [];
    for (const [name, b] of this.#binaries) {
      const sig = this.#signatures.get(name);
      let signature: K0sSignatureState = sig ? "unchecked" : "none";
      if (sig && b.check) {
        const file = { kind: "k0s binary", path: `${this.bundle}:${b.path}` };
        let ok: boolean;
        try {
          ok = b.check.verify(decodeSignature(file, sig.raw, sig.path));
        } catch (err) {
          await this.discard();
          throw err;
        }
        if (!ok) {
          await this.discard();
          throw new UserError(
            `Signature check of k0s binary "${b.path}" in bundle "${this.bundle}" failed: ` +
              `"${sig.path}" does not match it and key "${this.keyPath}"; nothing was loaded`,
          );
        }
        signature = "verified";
      }
      out.push({ name, size: b.staged.size, signature });
    }
    for (const [name, b] of this.#binaries) await b.staged.commit(this.#signatures.get(name)?.raw);
    this.#binaries.clear();
    return out.sort((a, b) => a.name < b.name ? -1 : 1);
  }

  /** Drops every staged binary (nothing becomes visible). */
  async discard(): Promise<void> {
    for (const b of this.#binaries.values()) await b.staged.discard();
    this.#binaries.clear();
  }
}

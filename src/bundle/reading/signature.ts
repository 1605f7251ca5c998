/**
 * Detached blob signatures as `cosign sign-blob --key` makes them: `<bundle>.sig`
 * holds the base64 of an ASN.1/DER ECDSA signature over the SHA-256 of the bundle (or, as
 * `cosign verify-blob` also accepts, the DER bytes themselves), checked
 * with a PEM public key. The native check streams: the loader feeds every byte of the bundle
 * into {@link SignatureCheck.update} during its one pass. (WebCrypto cannot verify a
 * prehashed or streamed message, so node:crypto's streaming `Verify` is used; it takes DER.)
 * `cosignVerifyArgv` builds the `cosign verify-blob` call for the alternative verifier.
 * The k0s binaries shipped beside the bundle carry the same kind of `.sig`, made with the
 * same key; messages name what is checked ({@link SignedFile}).
 */
import { createPublicKey, createVerify, type KeyObject, type Verify } from "node:crypto";
import { UserError } from "../../errors.ts";

/**
 * How a bundle's signature is checked: `native` (in the load's one pass, or a pass of its own),
 * `cosign` (`cosign verify-blob`, a pass of its own) or `off`.
 */
export type VerifyMode = "native" | "cosign" | "off";

/** Where the key and signature of a bundle are. */
export interface SignatureFiles {
  key: string;
  signature: string;
}

/** The default signature path of a bundle: `<bundle>.sig`. */
export function signaturePath(bundle: string): string {
  return `${bundle}.sig`;
}

/** What a signature belongs to, for messages: `bundle "x.tar.gz"`, `k0s binary "k0s-v..."`. */
export interface SignedFile {
  /** `bundle`, `k0s binary`. */
  kind: string;
  path: string;
  /**
   * What `--verify=false` does for the command at hand, for the advice in errors
   * (default `load without checking`; `bundle verify`: `check the blob digests only`).
   */
  withoutCheck?: string;
}

/** A cosign `.sig` is one base64 line of about 100 bytes; a larger file is not one. */
export const MAX_SIGNATURE_BYTES = 16 * 1024;

function optOut(file: SignedFile): string {
  return `or pass --verify=false to ${
    file.withoutCheck ?? "load without checking"
  } (not recommended)`;
}

function cannotVerify(file: SignedFile, detail: string): UserError {
  return new UserError(`Cannot verify ${file.kind} "${file.path}": ${detail}`);
}

/** Reads the PEM ECDSA public key at `path`; errors say what to copy where. */
export async function readPublicKey(file: SignedFile, path: string | undefined) {
  if (!path) {
    throw cannotVerify(
      file,
      "no public key; copy the vendor's cosign.pub to this host and pass --cosign-key PATH " +
        `(or set K0RDENTD_COSIGN_KEY), ${optOut(file)}`,
    );
  }
  let pem: string;
  try {
    pem = await Deno.readTextFile(path);
  } catch {
    throw cannotVerify(
      file,
      `cannot read public key "${path}"; copy the vendor's cosign.pub there, ${optOut(file)}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw cannotVerify(file, `"${path}" is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== "ec") {
    throw cannotVerify(file, `"${path}" is not an ECDSA public key`);
  }
  return key;
}

/**
 * Reads the signature file at `path` (at most {@link MAX_SIGNATURE_BYTES}): its bytes as they
 * are (to store beside a file) and the decoded DER signature.
 */
export async function readSignatureFile(
  file: SignedFile,
  path: string,
): Promise<{ raw: Uint8Array; signature: Uint8Array }> {
  let raw: Uint8Array;
  try {
    if ((await Deno.stat(path)).size > MAX_SIGNATURE_BYTES) {
      throw cannotVerify(
        file,
        `"${path}" is larger than ${MAX_SIGNATURE_BYTES} bytes; it is not a signature`,
      );
    }
    raw = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw cannotVerify(
      file,
      `signature "${path}" not found; copy the "${path.split("/").pop()}" published next to ` +
        `the ${file.kind} beside it, ${optOut(file)}`,
    );
  }
  return { raw, signature: decodeSignature(file, raw, path) };
}

/**
 * The DER signature in `raw` (from `where`): the base64 text `cosign sign-blob` writes, or, as
 * `cosign verify-blob` also takes it, the DER bytes themselves (sigstore/cosign v2.4.1
 * cmd/cosign/cli/verify/verify_blob.go `base64signature`: a file that is not base64 is the
 * signature). A UserError when it is neither base64 nor a DER SEQUENCE.
 */
export function decodeSignature(file: SignedFile, raw: Uint8Array, where: string): Uint8Array {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(raw).trim();
    if (!text) throw new Error("empty");
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    // An ASN.1/DER ECDSA signature is a SEQUENCE: its first byte is 0x30.
    if (raw.length > 2 && raw[0] === 0x30) return raw;
    throw cannotVerify(file, `"${where}" is not base64 nor a DER signature`);
  }
}

/**
 * Reads and checks the key and signature files of a bundle; errors say what to copy where and
 * what `--verify=false` would do instead (`withoutCheck`, see {@link SignedFile}).
 */
export async function readSignatureFiles(
  bundle: string,
  files: Partial<SignatureFiles>,
  withoutCheck?: string,
): Promise<{ key: KeyObject; signature: Uint8Array }> {
  const file = { kind: "bundle", path: bundle, withoutCheck };
  const key = await readPublicKey(file, files.key);
  const { signature } = await readSignatureFile(file, files.signature ?? signaturePath(bundle));
  return { key, signature };
}

/**
 * A streaming signature check over every byte of a file. The signature may come after the
 * bytes (a `.sig` later in a bundle): pass it to {@link SignatureCheck.verify}.
 */
export class SignatureCheck {
  readonly #verify: Verify = createVerify("SHA256");
  constructor(readonly key: KeyObject, readonly signature?: Uint8Array) {}

  /** Feeds file bytes (in order). */
  update(chunk: Uint8Array): this {
    this.#verify.update(chunk);
    return this;
  }

  /** True when the signature matches everything fed. Call once. */
  verify(signature = this.signature): boolean {
    if (!signature) return false;
    try {
      return this.#verify.verify(this.key, signature);
    } catch {
      return false;
    }
  }
}

/**
 * argv of the offline `cosign verify-blob` check: `--private-infrastructure=true` skips the
 * transparency-log lookup, which an air gap cannot reach.
 */
export function cosignVerifyArgv(bundle: string, files: SignatureFiles): string[] {
  return [
    "cosign",
    "verify-blob",
    "--key",
    files.key,
    "--signature",
    files.signature,
    "--private-infrastructure=true",
    bundle,
  ];
}

/** Checks the signature of a bundle file in a pass of its own (for the skopeo importer). */
export async function verifyFileSignature(bundle: string, files: Partial<SignatureFiles>) {
  const { key, signature } = await readSignatureFiles(bundle, files);
  const check = new SignatureCheck(key, signature);
  const file = await Deno.open(bundle);
  for await (const chunk of file.readable) check.update(chunk);
  if (!check.verify()) {
    throw new UserError(
      `Signature check of bundle "${bundle}" failed: the signature does not match the bundle ` +
        `and key "${files.key}"`,
    );
  }
}

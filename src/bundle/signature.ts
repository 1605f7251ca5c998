/**
 * Detached blob signatures as cosign makes them with a key (facts section 7): `<bundle>.sig`
 * holds the base64 of an ASN.1/DER ECDSA signature over the SHA-256 of the bundle, checked
 * with a PEM public key. The native check streams: the loader feeds every byte of the bundle
 * into {@link SignatureCheck.update} during its one pass. (WebCrypto cannot verify a
 * prehashed or streamed message, so node:crypto's streaming `Verify` is used; it takes DER.)
 * `cosignVerifyArgv` builds the `cosign verify-blob` call for the alternative verifier.
 */
import { createPublicKey, createVerify, type KeyObject, type Verify } from "node:crypto";
import { UserError } from "../errors.ts";

/** Where the key and signature of a bundle are. */
export interface SignatureFiles {
  key: string;
  signature: string;
}

/** The default signature path of a bundle: `<bundle>.sig`. */
export function signaturePath(bundle: string): string {
  return `${bundle}.sig`;
}

/** Reads and checks the key and signature files; errors say what to copy where. */
export async function readSignatureFiles(
  bundle: string,
  files: Partial<SignatureFiles>,
): Promise<{ key: KeyObject; signature: Uint8Array }> {
  const optOut = "or pass --verify=false to load without checking (not recommended)";
  if (!files.key) {
    throw new UserError(
      `Cannot verify bundle "${bundle}": no public key; copy the vendor's cosign.pub to this ` +
        `host and pass --cosign-key PATH (or set K0RDENT_COSIGN_KEY), ${optOut}`,
    );
  }
  const sigPath = files.signature ?? signaturePath(bundle);
  let pem: string;
  try {
    pem = await Deno.readTextFile(files.key);
  } catch {
    throw new UserError(
      `Cannot verify bundle "${bundle}": cannot read public key "${files.key}"; copy the ` +
        `vendor's cosign.pub there, ${optOut}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new UserError(`Cannot verify bundle "${bundle}": "${files.key}" is not a PEM public key`);
  }
  if (key.asymmetricKeyType !== "ec") {
    throw new UserError(
      `Cannot verify bundle "${bundle}": "${files.key}" is not an ECDSA public key`,
    );
  }
  let text: string;
  try {
    text = (await Deno.readTextFile(sigPath)).trim();
  } catch {
    throw new UserError(
      `Cannot verify bundle "${bundle}": signature "${sigPath}" not found; copy the ` +
        `"${sigPath.split("/").pop()}" published next to the bundle beside it, ${optOut}`,
    );
  }
  let signature: Uint8Array;
  try {
    signature = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    throw new UserError(`Cannot verify bundle "${bundle}": "${sigPath}" is not base64`);
  }
  return { key, signature };
}

/** A streaming signature check over every byte of the bundle file. */
export class SignatureCheck {
  readonly #verify: Verify = createVerify("SHA256");
  constructor(readonly key: KeyObject, readonly signature: Uint8Array) {}

  /** Feeds bundle bytes (in order). */
  update(chunk: Uint8Array): this {
    this.#verify.update(chunk);
    return this;
  }

  /** True when the signature matches everything fed. Call once. */
  verify(): boolean {
    try {
      return this.#verify.verify(this.key, this.signature);
    } catch {
      return false;
    }
  }
}

/** argv of the offline `cosign verify-blob` check (facts section 7). */
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

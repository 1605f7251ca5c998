/**
 * Every hash k0rdentd computes: SHA-256 (default) or SHA-512 of text, bytes, a stream or a file,
 * as lowercase hex. Registry digests (`sha256:<hex>`) are built on this in `registry/digest.ts`.
 * The one hash computed elsewhere is inside a signature check: node:crypto's `Verify` hashes the
 * signed file itself (`bundle/reading/signature.ts`, `SignatureCheck`).
 */
import { createHash, type Hash } from "node:crypto";

/** The hash algorithms in use: SHA-256 everywhere, SHA-512 for registry digests that name it. */
export type HashAlgorithm = "sha256" | "sha512";

/** An incremental hash: feed chunks with {@link update}, read the hex once with {@link hex}. */
export class IncrementalHash {
  #hash: Hash;

  constructor(readonly algorithm: HashAlgorithm = "sha256") {
    this.#hash = createHash(algorithm);
  }

  /** Feeds bytes. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  /** The lowercase hex hash of everything fed so far; call once. */
  hex(): string {
    return this.#hash.digest("hex");
  }
}

/** Hex hash of the UTF-8 encoding of `text`. */
export function hashText(text: string, algorithm: HashAlgorithm = "sha256"): string {
  return createHash(algorithm).update(text).digest("hex");
}

/** Hex hash of `bytes`. */
export function hashBytes(bytes: Uint8Array, algorithm: HashAlgorithm = "sha256"): string {
  return createHash(algorithm).update(bytes).digest("hex");
}

/** Hex hash of everything `stream` yields (read to its end, never buffered whole). */
export async function hashStream(
  stream: ReadableStream<Uint8Array>,
  algorithm: HashAlgorithm = "sha256",
): Promise<string> {
  const hash = new IncrementalHash(algorithm);
  for await (const chunk of stream) hash.update(chunk);
  return hash.hex();
}

/** Hex hash of the file at `path`, streamed. */
export async function hashFile(path: string, algorithm: HashAlgorithm = "sha256"): Promise<string> {
  const file = await Deno.open(path);
  return await hashStream(file.readable, algorithm);
}

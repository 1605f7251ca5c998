/** Content digests (`sha256:<hex>`, `sha512:<hex>`): parsing, validation and streaming hashing. */
import { hashBytes, IncrementalHash } from "../hash/sha.ts";
import { RegistryError } from "./errors.ts";

/** Digest algorithms the registry accepts, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;

/** One of {@link DIGEST_ALGORITHMS}. */
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

/** A parsed digest. */
export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
}

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True when `value` is a well-formed sha256 or sha512 digest. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** Parses `value`; throws `DIGEST_INVALID` when it is not a supported, well-formed digest. */
export function parseDigest(value: string): Digest {
  if (!DIGEST_RE.test(value)) {
    throw new RegistryError("DIGEST_INVALID", `Invalid digest "${value.slice(0, 200)}"`);
  }
  const [algorithm, hex] = value.split(":");
  return { algorithm: algorithm as DigestAlgorithm, hex };
}

/** An incremental hash producing a digest string. */
export class Hasher {
  #hash: IncrementalHash;
  constructor(readonly algorithm: DigestAlgorithm = "sha256") {
    this.#hash = new IncrementalHash(algorithm);
  }
  /** Feeds bytes. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }
  /** The digest of everything fed so far (once). */
  digest(): string {
    return `${this.algorithm}:${this.#hash.hex()}`;
  }
}

/** The digest of `bytes` with `algorithm`. */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = "sha256"): string {
  return `${algorithm}:${hashBytes(bytes, algorithm)}`;
}

/** Repository names and tags as the distribution spec defines them; invalid ones are refused. */
import { RegistryError } from "./errors.ts";

/** `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*` (spec v1.1). */
const NAME_RE =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/** Longest repository name accepted (distribution's limit). */
export const MAX_NAME_LENGTH = 255;

/** True when `name` is a valid repository name. */
export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

/** Throws `NAME_INVALID` unless `name` is a valid repository name. */
export function checkRepositoryName(name: string): void {
  if (!isRepositoryName(name)) {
    throw new RegistryError("NAME_INVALID", `Invalid repository name "${name.slice(0, 300)}"`);
  }
}

/** True when `tag` is a valid tag. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Throws `TAG_INVALID` unless `tag` is a valid tag. */
export function checkTag(tag: string): void {
  if (!TAG_RE.test(tag)) {
    throw new RegistryError("TAG_INVALID", `Invalid tag "${tag.slice(0, 200)}"`);
  }
}

/**
 * A k0s release binary as k0s publishes it and child clusters fetch it:
 * `k0s-<version>-<arch>` (kcm's cluster templates append exactly this to
 * `controller.globalK0sURL`).
 */
const K0S_BINARY_RE = /^k0s-v\d+\.\d+\.\d+\+k0s\.\d+-(?:amd64|arm64|arm)$/;
/** Suffix of a detached signature beside a k0s binary. */
export const SIGNATURE_SUFFIX = ".sig";

/** True when `name` is a k0s binary file name such as `k0s-v1.32.6+k0s.0-amd64`. */
export function isK0sBinaryName(name: string): boolean {
  return K0S_BINARY_RE.test(name);
}

/** True for a k0s binary name or `<k0s binary name>.sig`. */
export function isK0sFileName(name: string): boolean {
  return isK0sBinaryName(name) ||
    (name.endsWith(SIGNATURE_SUFFIX) && isK0sBinaryName(name.slice(0, -SIGNATURE_SUFFIX.length)));
}

/** A repository prefix without leading or trailing slashes (`/a/b/` -> `a/b`; may be ""). */
export function trimPrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, "");
}

/** An image reference split into its parts: `<name>[:<tag>][@<digest>]`. */
export interface ImageReference {
  /** Everything before the tag, registry host included, e.g. `quay.io/k0sproject/coredns`. */
  name: string;
  tag?: string;
  /** `sha256:<hex>`. */
  digest?: string;
}

const REFERENCE_RE = /^(.+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

/**
 * Splits an image reference such as `localhost:5000/a/b:v1` into name, tag and digest (a port
 * stays in the name: a tag never holds `/`); undefined for an empty reference.
 */
export function splitImageReference(ref: string): ImageReference | undefined {
  const m = REFERENCE_RE.exec(ref);
  if (!m) return undefined;
  const [, name, tag, digest] = m;
  return { name, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/**
 * Bundle file names -> registry references: `<prefix>/<dir>/<name>:<tag>` from
 * `<dir>/<name>_<tag>.tar` (name before the LAST `_`, tag after the FIRST `_`, as the vendor's
 * push loop does), `<dir>/<name>:<tag>.tar`, or the `org.opencontainers.image.ref.name`
 * annotation; never a silent `latest`. Also tells which files are archives, k0s binaries,
 * skipped, or charts.
 */
import { isK0sFileName, isRepositoryName, isTag, trimPrefix } from "../../registry/names.ts";

/** Where a repository reference points. */
export interface ArchiveRef {
  repository: string;
  tag: string;
}

/** What a bundle file is. */
export type FileKind = "archive" | "skopeo" | "k0s" | "other";

/** Classifies a bundle-relative path (`k0s`: a k0s binary `k0s-<version>-<arch>` or its `.sig`). */
export function fileKind(path: string): FileKind {
  const base = path.split("/").pop()!;
  if (isK0sFileName(base)) return "k0s";
  if (!base.endsWith(".tar")) return "other";
  if (/^skopeo_.*\.tar$/.test(base)) return "skopeo";
  return "archive";
}

/** True for `charts/k0rdent-enterprise_<V>.tar` (relative to the bundle root). */
export function isK0rdentChart(path: string): boolean {
  return /^charts\/k0rdent-enterprise_[^/]+\.tar$/.test(path);
}

/** The common lone top-level folder of `paths` (`airgap-bundle-<V>`), or "" when there is none. */
export function loneTopFolder(paths: readonly string[]): string {
  if (paths.length === 0) return "";
  const first = paths[0].split("/");
  if (first.length < 2) return "";
  const top = first[0];
  return paths.every((p) => p.startsWith(top + "/")) ? top : "";
}

/** A name that cannot become a repository reference. */
export class NamingError extends Error {
  override name = "NamingError";
}

/**
 * The tag part of a `ref.name` annotation (`repo:tag` or a bare tag), without a digest: containerd's
 * exporter (`ctr export`, `nerdctl save`) writes the object of the reference there, which for an
 * image named by digest is `<tag>@sha256:<hex>` or `@sha256:<hex>` (containerd v1.7
 * images/archive/reference.go `ociReferenceName`, reference/reference.go `Spec.Object`); the hex
 * after the digest's `:` is no tag. Undefined when no tag remains.
 */
function annotationTag(refName: string): string | undefined {
  const name = refName.split("@")[0];
  const at = name.lastIndexOf(":");
  const tag = at >= 0 && !name.slice(at).includes("/") ? name.slice(at + 1) : name;
  return tag === "" ? undefined : tag;
}

/**
 * The repository and tag for the archive at `path` (relative to the bundle root).
 * `refName` is the archive's `org.opencontainers.image.ref.name` annotation, if any.
 * Throws {@link NamingError} with the reason when no valid reference results.
 */
export function archiveReference(path: string, prefix: string, refName?: string): ArchiveRef {
  const parts = path.split("/");
  const stem = parts.pop()!.replace(/\.tar$/, "");
  let name: string;
  let tag: string;
  const colon = stem.indexOf(":");
  const first = stem.indexOf("_");
  if (colon > 0) {
    name = stem.slice(0, colon);
    tag = stem.slice(colon + 1);
  } else if (first > 0) {
    name = stem.slice(0, stem.lastIndexOf("_"));
    tag = stem.slice(first + 1);
  } else if (refName) {
    name = stem;
    const fromAnnotation = annotationTag(refName);
    if (fromAnnotation === undefined) {
      throw new NamingError(
        `file name has no tag ("<name>_<tag>.tar" or "<name>:<tag>.tar") and the archive's ` +
          `"org.opencontainers.image.ref.name" annotation "${refName}" names no tag`,
      );
    }
    tag = fromAnnotation;
  } else {
    throw new NamingError(
      `file name has no tag ("<name>_<tag>.tar" or "<name>:<tag>.tar") and the archive has no ` +
        `"org.opencontainers.image.ref.name" annotation`,
    );
  }
  const repository = [trimPrefix(prefix), ...parts, name].filter((p) => p !== "").join("/");
  if (!isRepositoryName(repository)) {
    throw new NamingError(`"${repository}" is not a valid repository name`);
  }
  if (!isTag(tag)) throw new NamingError(`"${tag}" is not a valid tag`);
  return { repository, tag };
}

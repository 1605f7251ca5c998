/**
 * The k0s and helm releases k0rdentd uses: default versions (embedded by the air-gap build,
 * downloaded online), their download URLs and the pinned SHA-256 sums of the published files.
 * Where each sum comes from is recorded in docs/builds.md; a version without a pin needs
 * `--k0s-sha256` / `--helm-sha256` (or a local `--k0s-binary` / `--helm-binary`).
 */

/** The architectures k0s and helm are published for, as their file names spell them. */
export type ReleaseArch = "amd64" | "arm64";

/** The release architecture of this machine (amd64 unless it is aarch64). */
export function hostArch(): ReleaseArch {
  return Deno.build.arch === "aarch64" ? "arm64" : "amd64";
}

/** Default k0s version embedded in the air-gap build. */
export const DEFAULT_K0S_VERSION = "v1.32.8+k0s.0";
/** Default helm version embedded in the air-gap build. */
export const DEFAULT_HELM_VERSION = "v3.18.4";

/** SHA-256 of `k0s-<V>-<arch>` (the binary itself), by version and arch. */
export const K0S_SHA256: Readonly<Record<string, Readonly<Record<ReleaseArch, string>>>> = {
  "v1.32.8+k0s.0": {
    amd64: "ecca8e04c966f71d41543f8e9568768d73cd886b97c3911b6d2b205aa6452c38",
    arm64: "fd30aa250ae5b5077ebc312287618d2055df31d978412c1e611181de90448a04",
  },
};

/** SHA-256 of `helm-<V>-linux-<arch>.tar.gz` (the release tarball), by version and arch. */
export const HELM_TARBALL_SHA256: Readonly<
  Record<string, Readonly<Record<ReleaseArch, string>>>
> = {
  "v3.18.4": {
    amd64: "f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1",
    arm64: "c0a45e67eef0c7416a8a8c9e9d5d2d30d70e4f4d3f7bea5de28241fffa8f3b89",
  },
};

/** Where releases are downloaded from (overridable for tests). */
export interface ToolSources {
  /** Base of k0s release downloads; the file is `<base>/<V>/k0s-<V>-<arch>`. */
  k0sBase: string;
  /** Base of helm downloads; the file is `<base>/helm-<V>-linux-<arch>.tar.gz`. */
  helmBase: string;
}

/** The official download locations. */
export const OFFICIAL_SOURCES: ToolSources = {
  k0sBase: "https://github.com/k0sproject/k0s/releases/download",
  helmBase: "https://get.helm.sh",
};

/** URL of the k0s binary for `version` and `arch`. */
export function k0sUrl(sources: ToolSources, version: string, arch: string): string {
  return `${sources.k0sBase}/${encodeURIComponent(version)}/k0s-${version}-${arch}`;
}

/** URL of the helm release tarball for `version` and `arch`. */
export function helmUrl(sources: ToolSources, version: string, arch: string): string {
  return `${sources.helmBase}/helm-${version}-linux-${arch}.tar.gz`;
}

/**
 * The layout of a worker bundle, computed in this one place:
 *
 * ```text
 * worker-bundle/                 0700
 * ├── README.md                  what is inside and the steps
 * ├── install.sh                 joins the node (POSIX sh)
 * ├── SHA256SUMS                 every file below except the token
 * ├── k0s                        the k0s binary       -> /usr/local/bin/k0s
 * ├── registry-ca.crt            CA of the registry (TLS registries only)
 * ├── worker-token               0600, a worker join token (when exported on a controller)
 * ├── files/                     host files, mirrored from the host root
 * │   └── etc/k0s/containerd.d/…  containerd drop-ins -> /etc/k0s/containerd.d/…
 * └── images/                    --with-images only
 *     └── k0s-system-images.tar  uncompressed OCI archive -> /var/lib/k0s/images/
 * ```
 */
import { basename, join } from "node:path";
import { HOST } from "../host/paths.ts";
import { joinTokenPath } from "../join/token.ts";

/** Bundle-relative names of the fixed files. */
export const BUNDLE = {
  readme: "README.md",
  installScript: "install.sh",
  checksums: "SHA256SUMS",
  k0sBinary: "k0s",
  registryCa: "registry-ca.crt",
  token: "worker-token",
  filesDir: "files",
  imagesDir: "images",
  systemImages: "images/k0s-system-images.tar",
} as const;

/** The default output directory of `export-worker-artifacts`. */
export const DEFAULT_BUNDLE_DIR = "./worker-bundle";

/** Where the worker's install script keeps its join token on the host. */
export const HOST_TOKEN_FILE = joinTokenPath("worker");

/** One file of the bundle that `install.sh` places on the host. */
export interface HostFile {
  /** Path inside the bundle, e.g. `files/etc/k0s/containerd.d/cri-registry.toml`. */
  source: string;
  /** Absolute path on the host, e.g. `/etc/k0s/containerd.d/cri-registry.toml`. */
  target: string;
  /** File mode on the host. */
  mode: number;
}

/** The bundle entry for a host file that mirrors its absolute host path under `files/`. */
export function mirroredHostFile(target: string, mode = 0o644): HostFile {
  if (!target.startsWith("/")) throw new Error(`Host path "${target}" is not absolute`);
  return { source: join(BUNDLE.filesDir, target), target, mode };
}

/** The k0s binary entry. */
export function k0sBinaryFile(): HostFile {
  return { source: BUNDLE.k0sBinary, target: HOST.k0sBinary, mode: 0o755 };
}

/** An image archive entry: `images/<name>` -> `/var/lib/k0s/images/<name>`. */
export function imageArchiveFile(source: string): HostFile {
  return { source, target: join(HOST.k0sImages, basename(source)), mode: 0o644 };
}

/**
 * Where child clusters find the k0s binaries the daemon serves on `--files-port`:
 * `http://<host>:<port>/<prefix>/<k0s-<version>-<arch>>`. kcm passes `controller.globalK0sURL`
 * to every ClusterDeployment as `global.k0sURL`, and its cluster templates (k0rdent/kcm
 * `templates/cluster/<name>/templates/k0scontrolplane.yaml` and `k0sworkerconfigtemplate.yaml`)
 * set `downloadURL: "{{ $global.k0sURL }}/k0s-{{ .Values.k0s.version }}-{{ .Values.k0s.arch }}"`;
 * k0smotron then runs `curl -sSfL --retry 5 <downloadURL> -o /usr/local/bin/k0s` on the node
 * (k0sproject/k0smotron `internal/controller/util/download.go`). No `.sig` is fetched.
 */
import { trimPrefix } from "./names.ts";

/**
 * The listing beside the binaries, `<path>/SHA256SUMS` (`sha256sum` format): replicas
 * (`registry --sync-from`) read it to learn which files to copy and check each copy by it.
 */
export const K0S_SUMS_FILE = "SHA256SUMS";

/**
 * The URL to set as `controller.globalK0sURL`: `http://<host>:<filesPort>/<prefix>` (an IPv6
 * host in brackets; no trailing slash, since the templates append `/k0s-...`).
 */
export function k0sFilesURL(host: string, filesPort: number, prefix: string): string {
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${shown}:${filesPort}${k0sFilesPath(prefix)}`;
}

/** The URL path the files are served under: `/<prefix>`, or "" for an empty prefix. */
export function k0sFilesPath(prefix: string): string {
  const trimmed = trimPrefix(prefix);
  return trimmed ? `/${trimmed}` : "";
}

/**
 * Host paths under a root prefix: `K0RDENTD_ROOT` (empty in production) lets
 * tests run installs inside a temp dir. Every use of `/etc`, `/usr/local/bin`,
 * `/var/lib` goes through {@link hostPath}.
 */
import { join } from "node:path";

/** Well-known host locations, before the root prefix. */
export const HOST = {
  configFile: "/etc/k0rdentd/k0rdentd.yaml",
  k0rdentdEtc: "/etc/k0rdentd",
  k0sEtc: "/etc/k0s",
  k0sConfig: "/etc/k0s/k0s.yaml",
  containerdDropIns: "/etc/k0s/containerd.d",
  containerdCertsD: "/etc/k0s/containerd.d/certs.d",
  binDir: "/usr/local/bin",
  k0sBinary: "/usr/local/bin/k0s",
  k0sControllerUnit: "/etc/systemd/system/k0scontroller.service",
  k0sWorkerUnit: "/etc/systemd/system/k0sworker.service",
  k0sControllerInitScript: "/etc/init.d/k0scontroller",
  k0sWorkerInitScript: "/etc/init.d/k0sworker",
  k0sData: "/var/lib/k0s",
  k0sImages: "/var/lib/k0s/images",
  k0sAdminKubeconfig: "/var/lib/k0s/pki/admin.conf",
  stateDir: "/var/lib/k0rdentd",
  installState: "/var/lib/k0rdentd/install-state.json",
  installLock: "/var/lib/k0rdentd/install.lock",
  helmValues: "/var/lib/k0rdentd/kcm-values.yaml",
  helmBinary: "/var/lib/k0rdentd/bin/helm",
  registryStorage: "/var/lib/k0rdentd/registry",
} as const;

/** The root prefix from `K0RDENTD_ROOT`, or "" for the real host. */
export function hostRoot(): string {
  return Deno.env.get("K0RDENTD_ROOT") ?? "";
}

/** Maps an absolute host path under the root prefix. */
export function hostPath(path: string): string {
  const root = hostRoot();
  return root ? join(root, path) : path;
}

/**
 * Every host path k0rdentd uses ({@link HOST}) and the root prefix they live under:
 * `K0RDENTD_ROOT` (empty in production) lets tests run installs inside a temp dir.
 * Code resolves host paths through its `HostMutator` (`mutator.ts`), whose default
 * mapping is {@link hostPath}; only the default config file location, needed before a
 * command has a mutator (`config/load.ts`), calls {@link hostPath} itself.
 */
import { join } from "node:path";

/** Well-known host locations, before the root prefix. */
export const HOST = {
  configFile: "/etc/k0rdentd/k0rdentd.yaml",
  k0rdentdEtc: "/etc/k0rdentd",
  /** Where a joining node reads the registry CA from (the join files point there). */
  joinRegistryCa: "/etc/k0rdentd/registry-ca.crt",
  /**
   * The cluster registry's CA key, copied there by the operator (from the first controller's
   * `<registry.storage>/tls/ca.key`) for a joining controller's registry replica.
   */
  joinRegistryCaKey: "/etc/k0rdentd/registry-ca.key",
  /** The password a registry replica authenticates to its sources with (0600). */
  replicaSyncPassword: "/etc/k0rdentd/registry-sync-password",
  /** The systemd unit of the registry replica of a joining controller. */
  registryUnit: "/etc/systemd/system/k0rdentd-registry.service",
  k0sEtc: "/etc/k0s",
  k0sConfig: "/etc/k0s/k0s.yaml",
  containerdDropIns: "/etc/k0s/containerd.d",
  containerdCertsD: "/etc/k0s/containerd.d/certs.d",
  k0sBinary: "/usr/local/bin/k0s",
  /** Where a packaged k0rdentd lives (the registry's systemd unit runs it from there). */
  k0rdentdBinary: "/usr/local/bin/k0rdentd",
  k0sControllerUnit: "/etc/systemd/system/k0scontroller.service",
  k0sWorkerUnit: "/etc/systemd/system/k0sworker.service",
  k0sControllerInitScript: "/etc/init.d/k0scontroller",
  k0sWorkerInitScript: "/etc/init.d/k0sworker",
  /** Where k0s, containerd and the images keep their data (the free-space preflight). */
  varLib: "/var/lib",
  /** Present while systemd runs (an init system k0s can install its service into). */
  systemdRuntime: "/run/systemd/system",
  /** Present while OpenRC runs. */
  openrcRuntime: "/run/openrc",
  k0sData: "/var/lib/k0s",
  k0sImages: "/var/lib/k0s/images",
  k0sAdminKubeconfig: "/var/lib/k0s/pki/admin.conf",
  /** The kubeconfig k0s writes for the kubelet of a joined node. */
  kubeletKubeconfig: "/var/lib/k0s/kubelet.conf",
  stateDir: "/var/lib/k0rdentd",
  installState: "/var/lib/k0rdentd/install-state.json",
  installLock: "/var/lib/k0rdentd/install.lock",
  helmValues: "/var/lib/k0rdentd/kcm-values.yaml",
  helmBinary: "/var/lib/k0rdentd/bin/helm",
  /** The default `registry.storage` (a configured path: not mapped under the root prefix). */
  registryStorage: "/var/lib/k0rdentd/registry",
} as const;

/** Maps an absolute host path under the root prefix `K0RDENTD_ROOT` ("" for the real host). */
export function hostPath(path: string): string {
  const root = Deno.env.get("K0RDENTD_ROOT") ?? "";
  return root ? join(root, path) : path;
}

/** Default configuration: what a file is deep-merged over. */
import { HOST } from "../host/paths.ts";
import type { Config } from "./schema.ts";

/** The upstream registries the local registry stands in for by default. */
export const DEFAULT_MIRRORS = [
  "registry.mirantis.com",
  "quay.io",
  "registry.k8s.io",
  "docker.io",
  "ghcr.io",
];

/** The k0rdent chart version installed online when `k0rdent.version` is empty. */
export const DEFAULT_K0RDENT_VERSION = "1.2.0";

/** Returns a fresh copy of the defaults. */
export function defaultConfig(): Config {
  return {
    logLevel: "info",
    logFormat: "text",
    k0s: {
      version: "v1.32.8+k0s.0",
      api: { address: "", port: 6443 },
      network: { provider: "kuberouter", podCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/12" },
      storage: { type: "etcd" },
    },
    k0rdent: {
      version: "",
      helm: {
        chart: "oci://ghcr.io/k0rdent/kcm/charts/kcm",
        releaseName: "kcm",
        namespace: "kcm-system",
        values: {},
      },
      credentials: { aws: [], azure: [], openstack: [], vsphere: [], gcp: [] },
    },
    airgap: {
      bundlePath: "",
      k0sURL: "",
      registry: {
        address: "localhost:5000",
        advertiseAddress: "",
        prefix: "k0rdent-enterprise",
        insecure: false,
        caFile: "",
        username: "",
        password: "",
        mirrors: [...DEFAULT_MIRRORS],
      },
    },
    join: { mode: "", server: "", token: "", tokenFile: "", registryReplica: false },
    registry: {
      host: "0.0.0.0",
      port: 5000,
      filesPort: 5080,
      debugAddress: "127.0.0.1:5001",
      accessLog: true,
      storage: HOST.registryStorage,
      bundlePath: "",
      prefix: "k0rdent-enterprise",
      verifySignature: true,
      cosignKey: "",
      verifier: "native",
      syncFrom: [],
      syncFilesFrom: [],
      syncInterval: "30s",
      syncCaFile: "",
      syncUsername: "",
      syncPasswordFile: "",
      tls: { mode: "auto", cert: "", key: "", sans: [] },
      auth: { htpasswd: "", authPulls: false, readOnly: false },
      limits: {
        maxConnections: 1000,
        headerTimeout: "20s",
        idleTimeout: "2m",
        maxUploads: 1000,
        maxUploadsPerClient: 100,
        uploadExpiry: "1h",
        maxLoginFailures: 10,
      },
    },
  };
}

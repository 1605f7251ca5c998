/** The local registry as its clients (k0s, containerd, helm, k0rdent) see it: address, prefix, TLS. */
import type { Config } from "../config/schema.ts";

/** Where the air-gap images and charts are served from. */
export interface RegistryEndpoint {
  /** `HOST:PORT` as clients reach it, e.g. `10.0.0.5:5000`. */
  address: string;
  /** Repository prefix everything was pushed under, e.g. `k0rdent-enterprise`; "" for none. */
  prefix: string;
  /** True for a plain-HTTP registry, false for HTTPS. */
  insecure: boolean;
}

/** The endpoint described by `airgap.registry` in the configuration. */
export function registryEndpoint(config: Config): RegistryEndpoint {
  const { address, prefix, insecure } = config.airgap.registry;
  return { address, prefix: trimSlashes(prefix), insecure };
}

/** `<address>/<prefix>` (or just `<address>` without a prefix): the base of every repository. */
export function repositoryBase(endpoint: RegistryEndpoint): string {
  const prefix = trimSlashes(endpoint.prefix);
  return prefix ? `${endpoint.address}/${prefix}` : endpoint.address;
}

/** `http://<address>` or `https://<address>`. */
export function registryURL(endpoint: RegistryEndpoint): string {
  return `${endpoint.insecure ? "http" : "https"}://${endpoint.address}`;
}

function trimSlashes(s: string): string {
  return s.replace(/^\/+|\/+$/g, "");
}

/**
 * The air-gap registry as its clients see it. This host (preflight probes, helm on this host)
 * reaches it at `airgap.registry.address`, which may be loopback; pods and other nodes (helm
 * values, k0s.yaml, containerd hosts.toml, join files, worker artifacts) reach it at
 * `airgap.registry.advertiseAddress`, which is never loopback once {@link resolveRegistry}
 * (`resolve.ts`) has filled it in. Either may name several registries serving the same content
 * (replicas, `registry --sync-from`), comma-separated in the order clients try them: the first
 * is {@link RegistryEndpoint.address}, the others {@link RegistryEndpoint.fallbacks}.
 */
import type { Config } from "../config/schema.ts";
import { isLocalHost, splitHostPort } from "../join/node_address.ts";

/** Where the air-gap images and charts are served from. */
export interface RegistryEndpoint {
  /** `HOST:PORT` as clients reach it, e.g. `10.0.0.5:5000`. */
  address: string;
  /**
   * Further registries with the same content, tried in this order after `address` (containerd
   * hosts.toml lists them all); Helm and the k0rdent values name `address` only.
   */
  fallbacks?: string[];
  /** Repository prefix everything was pushed under, e.g. `k0rdent-enterprise`; "" for none. */
  prefix: string;
  /** True for a plain-HTTP registry, false for HTTPS. */
  insecure: boolean;
}

/** The entries of a comma-separated address list (`airgap.registry.address`), in order. */
export function splitAddresses(value: string): string[] {
  return value.split(",").map((a) => a.trim()).filter((a) => a !== "");
}

/** `address` first, then `fallbacks`, each once. */
export function endpointAddresses(endpoint: RegistryEndpoint): string[] {
  return [...new Set([endpoint.address, ...(endpoint.fallbacks ?? [])])];
}

/** `{address, fallbacks}` of a comma-separated list. */
function addressesOf(value: string): Pick<RegistryEndpoint, "address" | "fallbacks"> {
  const [address = "", ...others] = splitAddresses(value);
  const fallbacks = [...new Set(others)].filter((f) => f !== address);
  return fallbacks.length ? { address, fallbacks } : { address };
}

/** The endpoint as this host reaches it: `airgap.registry.address`. */
export function registryEndpoint(config: Config): RegistryEndpoint {
  const { address, prefix, insecure } = config.airgap.registry;
  return { ...addressesOf(address), prefix: trimSlashes(prefix), insecure };
}

/**
 * The endpoint as pods and other nodes reach it: `airgap.registry.advertiseAddress`, or the
 * configured address while that is not filled in (online mirrors, configs never resolved).
 */
export function clusterEndpoint(config: Config): RegistryEndpoint {
  const { advertiseAddress } = config.airgap.registry;
  return {
    ...registryEndpoint(config),
    ...(advertiseAddress ? addressesOf(advertiseAddress) : {}),
  };
}

/**
 * Names under which containerd on this node must also find the registry when the cluster
 * address differs from the configured one: the configured address and, when it is loopback,
 * `localhost:<port>` and `127.0.0.1:<port>` (images named before the advertise address existed).
 */
export function localRegistryAliases(config: Config): string[] {
  const { address } = registryEndpoint(config);
  const cluster = clusterEndpoint(config).address;
  if (cluster === address) return [];
  const { host, port } = splitHostPort(address);
  const names = isLocalHost(host) ? [address, `localhost:${port}`, `127.0.0.1:${port}`] : [address];
  return [...new Set(names)].filter((name) => name !== cluster);
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

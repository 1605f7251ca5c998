/**
 * Fills in what `airgap.registry` leaves to k0rdentd, once per command, before anything reads
 * it: the CA of a `registry --tls auto` on this host, and the address pods and other nodes
 * reach the registry at (never loopback: in a pod, localhost is the pod itself).
 */
import { join } from "node:path";
import type { Config } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { pathExists } from "../fsx/exists.ts";
import { isLocalHost, pickNodeAddress, splitHostPort } from "../join/node_address.ts";
import { layout } from "../registry/storage/layout.ts";
import { splitAddresses } from "./endpoint.ts";

/** What {@link resolveRegistry} decided, for the log and the plan. */
export interface RegistryResolution {
  config: Config;
  /** One line per value filled in, e.g. `registry CA: /var/lib/... (registry --tls auto)`. */
  notes: string[];
  /** What the user should know: plain HTTP. */
  warnings: string[];
}

/** Options of {@link resolveRegistry}. */
export interface ResolveRegistryOptions {
  /** This host's routable IPv4 (undefined: none); default: from its network interfaces. */
  nodeAddress?: () => string | undefined;
}

/** The flag that sets the advertise address, named in errors. */
export const ADVERTISE_FLAG = "--registry-advertise-address";

/** The `--tls auto` CA under `registry.storage`, the same path the registry writes it to. */
function autoTlsCaFile(config: Config): string {
  return join(config.registry.storage, layout.tls("ca.crt"));
}

/**
 * The CA file of an HTTPS registry: `airgap.registry.caFile`, else the `--tls auto` CA of
 * `registry.storage` when that file exists (install and the registry share the config), else
 * "" (system roots). "" for a plain-HTTP registry.
 */
export async function findRegistryCa(config: Config): Promise<string> {
  const { insecure, caFile } = config.airgap.registry;
  if (insecure) return "";
  if (caFile) return caFile;
  const auto = autoTlsCaFile(config);
  return await pathExists(auto) ? auto : "";
}

/**
 * Returns a copy of `config` with `airgap.registry.caFile` and `advertiseAddress` filled in:
 * - `caFile`, when empty on an HTTPS registry: the `--tls auto` CA of `registry.storage` when
 *   that file exists (install and the registry share the config), else empty (system roots).
 * - `advertiseAddress`: as given (a port-less host takes the address's port); else the address
 *   itself unless loopback, then this host's routable IPv4 with the address's port. With several
 *   addresses (comma-separated, replicas) each other one resolves the same way, unless the
 *   advertise address lists them too; the result is the comma-separated list, in order.
 */
export async function resolveRegistry(
  config: Config,
  options: ResolveRegistryOptions = {},
): Promise<RegistryResolution> {
  const resolved = structuredClone(config);
  const registry = resolved.airgap.registry;
  const notes: string[] = [];
  const warnings: string[] = [];
  if (registry.username && !registry.password) {
    throw new UserError(
      `airgap.registry.username "${registry.username}" has no password: pass --registry-password-stdin or set K0RDENTD_REGISTRY_PASSWORD`,
    );
  }
  if (registry.insecure) {
    warnings.push(
      `The registry ${registry.address} is used over plain HTTP (airgap.registry.insecure): k0rdent Enterprise does not support insecure registries; serve it with "k0rdentd registry --tls auto" instead`,
    );
  } else if (!registry.caFile) {
    registry.caFile = await findRegistryCa(config);
    if (registry.caFile) {
      notes.push(`registry CA: ${registry.caFile} (the CA of "k0rdentd registry --tls auto")`);
    }
  }
  // With several registries (replicas), each is resolved alone, as one would be.
  const [address, ...others] = splitAddresses(registry.address);
  const { host, port } = splitHostPort(address);
  const pickIp = () => (options.nodeAddress ?? (() => pickNodeAddress(Deno.networkInterfaces())))();
  const [given, ...givenOthers] = splitAddresses(registry.advertiseAddress);
  let advertised: string;
  if (given) {
    // A port-less registry address (HTTPS on 443) keeps a port-less advertise address too.
    const portless = !/:\d{1,5}$/.test(address) || address.endsWith("]");
    advertised = portless ? given : withPort(given, port);
    if (isLocalHost(splitHostPort(advertised).host)) {
      throw new UserError(
        `Invalid airgap.registry.advertiseAddress "${given}": pods and other nodes cannot reach a loopback address; use this host's IP or DNS name`,
      );
    }
  } else if (isLocalHost(host)) {
    const ip = pickIp();
    if (!ip) {
      throw new UserError(
        `Cannot pick the registry address pods and other nodes use: airgap.registry.address "${address}" is loopback and this host has no routable IPv4 address; pass ${ADVERTISE_FLAG} IP`,
      );
    }
    advertised = withPort(ip, port);
    notes.push(
      `registry address for pods and other nodes: ${advertised} (${address} is loopback; set ${ADVERTISE_FLAG} to choose)`,
    );
  } else {
    advertised = address;
  }
  // The other registries: as advertised when the advertise address lists them too, else as
  // configured, a loopback one (this host's replica) at this host's IP.
  const fallbacks = givenOthers.length ? givenOthers : others.map((other) => {
    const { host, port } = splitHostPort(other);
    if (!isLocalHost(host)) return other;
    const ip = pickIp();
    if (!ip) {
      throw new UserError(
        `Cannot pick the address pods and other nodes use for registry "${other}": it is loopback and this host has no routable IPv4 address; pass ${ADVERTISE_FLAG} with every address`,
      );
    }
    return withPort(ip, port);
  });
  for (const f of givenOthers) {
    if (isLocalHost(splitHostPort(f).host)) {
      throw new UserError(
        `Invalid airgap.registry.advertiseAddress "${f}": pods and other nodes cannot reach a loopback address; use this host's IP or DNS name`,
      );
    }
  }
  registry.advertiseAddress = [...new Set([advertised, ...fallbacks])].join(",");
  return { config: resolved, notes, warnings };
}

/** `address` with `:port` unless it has a port; a bare IPv6 address gets brackets. */
function withPort(address: string, port: number): string {
  if (/^(\[[^\]]+\]|[^:]+):\d{1,5}$/.test(address)) return address;
  return address.includes(":") && !address.startsWith("[")
    ? `[${address}]:${port}`
    : `${address}:${port}`;
}

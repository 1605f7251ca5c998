/**
 * The address other nodes reach this one at: the first routable IPv4 of a real interface,
 * skipping loopback, link-local and CNI/container interfaces (cni0, flannel.1, cali*, vxlan*,
 * docker0, kube-bridge, veth*, ...), and the registry address as seen from another node.
 */
import { UserError } from "../errors.ts";

/** Interface name prefixes of CNI plugins, container runtimes and tunnels. */
const VIRTUAL_INTERFACE =
  /^(lo|cni|flannel|cali|vxlan|docker|kube-|veth|br-|virbr|cilium|weave|tunl|tun|tap|podman|lxc)/;

/** The interface fields this module reads (a subset of `Deno.NetworkInterfaceInfo`). */
export interface InterfaceAddress {
  name: string;
  family: "IPv4" | "IPv6";
  address: string;
}

/** True for IPv4 addresses other nodes cannot use: loopback, link-local, unspecified. */
function unroutable(address: string): boolean {
  return /^(127\.|169\.254\.|0\.)/.test(address);
}

/** The first routable IPv4 among `interfaces` (in the given order), or undefined. */
export function pickNodeAddress(interfaces: readonly InterfaceAddress[]): string | undefined {
  return interfaces.find((i) =>
    i.family === "IPv4" && !VIRTUAL_INTERFACE.test(i.name) && !unroutable(i.address)
  )?.address;
}

/** This host's first routable IPv4; a UserError naming `flag` when there is none. */
export function detectNodeAddress(flag: string): string {
  const address = pickNodeAddress(Deno.networkInterfaces());
  if (!address) {
    throw new UserError(`Cannot find a routable IPv4 address on this host: pass ${flag} IP`);
  }
  return address;
}

/** True when `host` only means "this machine" (localhost, 127.0.0.0/8, ::1, 0.0.0.0). */
export function isLocalHost(host: string): boolean {
  return /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|::1|0\.0\.0\.0|\[::\])$/i.test(host);
}

/**
 * `addresses` without those naming one of this host's `interfaces` (routable or not) at `port`:
 * the registry a replica on this host would serve itself.
 */
export function withoutOwnAddresses(
  addresses: readonly string[],
  port: number,
  interfaces: readonly InterfaceAddress[],
): string[] {
  const own = new Set(interfaces.map((i) => i.family === "IPv6" ? `[${i.address}]` : i.address));
  return addresses.filter((a) => {
    const { host, port: p } = splitHostPort(a);
    return !(p === port && own.has(host.toLowerCase()) && !isLocalHost(host));
  });
}

/** Splits a registry address `HOST[:PORT]` (IPv6 in brackets); no port means HTTPS's 443. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\[\]]+)(?::(\d{1,5}))?$/.exec(address);
  if (!m) throw new UserError(`Invalid address "${address}": expected HOST or HOST:PORT`);
  return { host: m[1], port: m[2] === undefined ? 443 : Number(m[2]) };
}

/**
 * The other names under which the cluster's k0s images may refer to the registry that another
 * node reaches at `address`: the `aliases` of that node's containerd drop-ins, so those names
 * lead to `address` there. `named` is the address the first node's k0s.yaml names images after
 * when it is known (the worker bundle, made on that node); a joining node does not know it and
 * gets `localhost:<port>` and `127.0.0.1:<port>` (the local registry's usual names). None when
 * `address` is itself local: then the local names already lead to it.
 */
export function registryAliases(address: string, named?: string): string[] {
  const { host, port } = splitHostPort(address);
  if (isLocalHost(host)) return [];
  const names = named === undefined ? [`localhost:${port}`, `127.0.0.1:${port}`] : [named];
  return names.filter((name) => name !== address);
}

/**
 * With several registry addresses (replicas serving the same content), Helm and the k0rdent
 * values can name only one: the first. This puts the first one that answers `/v2/` from this
 * host first, in `airgap.registry.address` and `advertiseAddress` alike; containerd still lists
 * every registry, in the new order.
 */
import { registryEndpoint, registryURL, splitAddresses } from "../airgap_registry/endpoint.ts";
import type { Config } from "../config/schema.ts";
import { registryAccess } from "./registry_probe.ts";

/** How long one registry may take to answer `/v2/`. */
const PROBE_TIMEOUT_MS = 3000;

/** `list` with its entry `i` first, the others in their order. */
function toFront(list: string[], i: number): string[] {
  return [list[i], ...list.filter((_, j) => j !== i)];
}

/**
 * Moves the first reachable registry to the front of both address lists of `config` (in
 * place) and says so; nothing when the first answers, none answers, or there is one address.
 * A 401 counts as an answer (the registry is up; the credentials are preflight's business).
 */
export async function preferReachableRegistry(config: Config): Promise<string | undefined> {
  const registry = config.airgap.registry;
  const local = splitAddresses(registry.address);
  const cluster = splitAddresses(registry.advertiseAddress);
  if (local.length < 2 || cluster.length !== local.length) return undefined;
  const access = await registryAccess(config);
  try {
    for (const [i, address] of local.entries()) {
      const url = `${registryURL({ ...registryEndpoint(config), address })}/v2/`;
      const up = await access.fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
        .then(async (res) => {
          await res.body?.cancel();
          return res.status === 200 || res.status === 401;
        }, () => false);
      if (!up) continue;
      if (i === 0) return undefined;
      registry.address = toFront(local, i).join(",");
      registry.advertiseAddress = toFront(cluster, i).join(",");
      return `registry ${local.slice(0, i).join(", ")} does not answer: Helm and the k0rdent ` +
        `values use ${cluster[i]}; containerd tries ${registry.advertiseAddress} in this order`;
    }
  } finally {
    access.close();
  }
  return undefined;
}

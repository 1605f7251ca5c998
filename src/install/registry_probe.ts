/**
 * Read-only probes of the local registry for preflight and `status`:
 * `/v2/` reachability, the tags of a repository and the catalog size, over
 * plain HTTP or HTTPS with the configured CA.
 */
import type { Config } from "../config/schema.ts";
import { registryEndpoint, registryURL } from "../airgap/registry_endpoint.ts";
import { readRegistryCa } from "../airgap/registry_ca.ts";

/** The URL of `path` on the configured registry. */
export function registryUrl(config: Config, path: string): string {
  return registryURL(registryEndpoint(config)) + path;
}

/** An HTTP client trusting `airgap.registry.caFile` when one is set. */
export async function registryClient(config: Config): Promise<Deno.HttpClient | undefined> {
  const caPem = await readRegistryCa(config);
  return caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
}

async function getJson(config: Config, path: string): Promise<unknown> {
  const res = await fetch(registryUrl(config, path), {
    client: await registryClient(config),
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} for ${path}`);
  }
  return await res.json();
}

/** The tags of `repository` (empty when it does not exist). */
export async function registryTags(config: Config, repository: string): Promise<string[]> {
  const body = await getJson(config, `/v2/${repository}/tags/list`) as { tags?: string[] } | null;
  return body?.tags ?? [];
}

/** The number of repositories in the registry's catalog. */
export async function registryRepositoryCount(config: Config): Promise<number> {
  const body = await getJson(config, "/v2/_catalog?n=10000") as
    | { repositories?: string[] }
    | null;
  return body?.repositories?.length ?? 0;
}

/**
 * Read-only probes of the local registry for preflight and `status`:
 * `/v2/` reachability, the tags of a repository, whether manifests exist and
 * the image count, over plain HTTP or HTTPS with the configured CA.
 */
import type { Config } from "../config/schema.ts";
import { registryEndpoint, registryURL } from "../airgap_registry/endpoint.ts";
import { readRegistryCa } from "../airgap_registry/ca.ts";
import { errorMessage, fetchErrorMessage } from "../errors.ts";
import { MEDIA_TYPES } from "../registry/manifest.ts";

/** The URL of `path` on the configured registry. */
export function registryUrl(config: Config, path: string): string {
  return registryURL(registryEndpoint(config)) + path;
}

/** How this host talks to the registry: its CA and its credentials. Close it after use. */
export interface RegistryAccess {
  /** `fetch` trusting `airgap.registry.caFile`, with Basic credentials when configured. */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  close(): void;
}

/**
 * The access for `config`: an HTTP client trusting `airgap.registry.caFile` when one is set, and
 * `airgap.registry.username`/`password` as Basic credentials on every request when set.
 */
export async function registryAccess(config: Config): Promise<RegistryAccess> {
  const caPem = await readRegistryCa(config);
  const client = caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
  const auth = basicAuthorization(config);
  return {
    fetch(url, init = {}) {
      const headers = new Headers(init.headers);
      if (auth) headers.set("Authorization", auth);
      return fetch(url, { ...init, headers, client });
    },
    close: () => client?.close(),
  };
}

/** `Basic <base64(user:password)>` for the configured registry credentials, or undefined. */
export function basicAuthorization(config: Config): string | undefined {
  const { username, password } = config.airgap.registry;
  if (!username) return undefined;
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** The body of a JSON GET (null on 404) and the URL of the next page from its `Link` header. */
async function getJsonPage(
  access: RegistryAccess,
  url: string,
  signal: AbortSignal,
): Promise<{ body: unknown; next: string | null }> {
  const res = await access.fetch(url, { signal });
  if (res.status === 404) {
    await res.body?.cancel();
    return { body: null, next: null };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} for ${new URL(url).pathname}`);
  }
  const link = res.headers.get("Link")?.match(/<([^>]+)>\s*;\s*rel="?next"?/);
  return { body: await res.json(), next: link ? new URL(link[1], url).href : null };
}

/** The tags of `repository` (empty when it does not exist). */
export async function registryTags(config: Config, repository: string): Promise<string[]> {
  const access = await registryAccess(config);
  try {
    const { body } = await getJsonPage(
      access,
      registryUrl(config, `/v2/${repository}/tags/list`),
      AbortSignal.timeout(10_000),
    );
    return (body as { tags?: string[] } | null)?.tags ?? [];
  } finally {
    access.close();
  }
}

/** Every entry of a paginated list (`repositories` of the catalog, `tags` of a tag list). */
async function listAllPages(
  access: RegistryAccess,
  firstUrl: string,
  key: "repositories" | "tags",
  signal: AbortSignal,
): Promise<string[]> {
  const all: string[] = [];
  let url: string | null = firstUrl;
  while (url) {
    const page: { body: unknown; next: string | null } = await getJsonPage(access, url, signal);
    const entries = (page.body as Record<string, unknown> | null)?.[key];
    if (Array.isArray(entries)) all.push(...entries.map(String));
    url = page.next;
  }
  return all;
}

/** Options of {@link registryImageCount}. */
export interface ImageCountOptions {
  /** Entries per page asked of the registry (`n`). */
  pageSize?: number;
  /** Limit for the whole count. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** What the registry holds: repositories in its catalog and images (tags) across them. */
export interface RegistryContents {
  repositories: number;
  images: number;
}

/**
 * Counts the images of the registry: the tags of every `_catalog` repository, following
 * `Link` pages of both lists, a few repositories at a time, within `timeoutMs` (30 s).
 */
export async function registryImageCount(
  config: Config,
  { pageSize = 1000, timeoutMs = 30_000, signal }: ImageCountOptions = {},
): Promise<RegistryContents> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const failed = new AbortController(); // stops the other workers after one fails
  const abort = AbortSignal.any([timeout, failed.signal, ...(signal ? [signal] : [])]);
  const access = await registryAccess(config);
  const list = (path: string, key: "repositories" | "tags") =>
    listAllPages(access, registryUrl(config, `${path}?n=${pageSize}`), key, abort);
  try {
    const repositories = await list("/v2/_catalog", "repositories");
    let images = 0;
    let next = 0;
    const worker = async () => {
      while (next < repositories.length) {
        const tags = await list(`/v2/${repositories[next++]}/tags/list`, "tags");
        images += tags.length; // after the await: `images += await ...` would lose updates
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, repositories.length) }, worker))
      .catch((err) => {
        failed.abort();
        throw err;
      });
    return { repositories: repositories.length, images };
  } catch (err) {
    if (timeout.aborted) throw new Error(`counting images took longer than ${timeoutMs / 1000} s`);
    throw err;
  } finally {
    access.close();
  }
}

/** `Accept` of a manifest HEAD: image indexes and manifests, OCI and Docker. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.dockerManifest,
].join(", ");

/** What a manifest HEAD found: present (200), missing (404), or why it could not tell. */
export type ManifestProbe = { found: boolean } | { error: string };

/** Options of {@link probeManifests}. */
export interface ProbeManifestsOptions {
  /** Requests in flight at once (8). */
  concurrency?: number;
  /** Limit of each request (10 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * HEADs each manifest URL (`/v2/<repository>/manifests/<reference>` on the registry of
 * `config`), a few at a time; the results are in the order of `urls`.
 */
export async function probeManifests(
  config: Config,
  urls: readonly string[],
  { concurrency = 8, timeoutMs = 10_000, signal }: ProbeManifestsOptions = {},
): Promise<ManifestProbe[]> {
  let access: RegistryAccess;
  try {
    access = await registryAccess(config);
  } catch (err) {
    return urls.map(() => ({ error: errorMessage(err) }));
  }
  const results: ManifestProbe[] = new Array(urls.length);
  const probe = async (url: string): Promise<ManifestProbe> => {
    try {
      const res = await access.fetch(url, {
        method: "HEAD",
        headers: { Accept: MANIFEST_ACCEPT },
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])]),
      });
      await res.body?.cancel();
      if (res.status === 200) return { found: true };
      if (res.status === 404) return { found: false };
      return { error: `HTTP ${res.status}` };
    } catch (err) {
      return { error: fetchErrorMessage(err) };
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < urls.length) {
      const i = next++;
      results[i] = await probe(urls[i]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
    return results;
  } finally {
    access.close();
  }
}

/**
 * A test model of how containerd turns an image reference into registry URLs from
 * `certs.d/<host>/hosts.toml` (containerd `remotes/docker/config/hosts.go` and
 * `remotes/docker/resolver.go`, the same in 1.7 and 2.x): `[host]` entries in file order,
 * then `server` (default `https://<namespace>`); a URL path gets `/v2` appended unless it
 * already ends in `/v2` or `override_path` is set; the request path is
 * `<host path>/<repository>/<kind>/<ref>`, with `?ns=<namespace>` (query-encoded) for a host
 * that is not the namespace itself. tests/containerd_real_pull_test.ts checks these URLs
 * against the requests a real containerd makes.
 */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { parse } from "smol-toml";

/** A `{path, content}` file as the generator returns it. */
export interface TomlFile {
  path: string;
  content: string;
}

/** Splits `host[:port]/repo/path:tag` into namespace, repository and tag. */
export function splitImage(image: string): { namespace: string; repository: string; tag: string } {
  const slash = image.indexOf("/");
  const rest = image.slice(slash + 1);
  const colon = rest.lastIndexOf(":");
  return {
    namespace: image.slice(0, slash),
    repository: rest.slice(0, colon),
    tag: rest.slice(colon + 1),
  };
}

/**
 * The URLs containerd tries, in order, for `<kind>/<ref>` of `image` (kind `manifests` or
 * `blobs`; ref defaults to the image tag).
 */
export function registryURLs(
  files: readonly TomlFile[],
  image: string,
  kind = "manifests",
  ref?: string,
): string[] {
  const { namespace, repository, tag } = splitImage(image);
  const byPath = new Map(files.map((f) => [f.path, f.content]));
  const text = byPath.get(`certs.d/${namespace}/hosts.toml`) ??
    byPath.get("certs.d/_default/hosts.toml");
  assert.ok(text, `no hosts.toml for ${namespace}`);
  const doc = parse(text) as Record<string, unknown>;
  const hosts = Object.entries((doc.host ?? {}) as Record<string, Record<string, unknown>>);
  const server = typeof doc.server === "string" ? doc.server : `https://${namespace}`;
  return [...hosts, [server, doc] as const].map(([url, cfg]) => {
    const u = new URL(url);
    let path = u.pathname === "/" ? "" : posix.normalize(u.pathname);
    if (!cfg.override_path && !path.endsWith("/v2")) path += "/v2";
    // url.Values.Encode() in containerd: `localhost:5000` is sent as `localhost%3A5000`.
    const query = u.host === namespace ? "" : `?${new URLSearchParams({ ns: namespace })}`;
    return `${u.protocol}//${u.host}${posix.join("/", path, repository, kind, ref ?? tag)}${query}`;
  });
}

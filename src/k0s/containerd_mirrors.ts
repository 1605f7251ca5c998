/**
 * The containerd registry drop-ins that make k0s's containerd pull from the local registry:
 * `cri-registry.toml` plus one `certs.d/<host[:port]>/hosts.toml` per host. Pure: install and
 * the worker artifacts both write the files this returns (the only generator of them).
 *
 * How a mirror entry resolves (containerd `docs/hosts.md` and
 * `remotes/docker/config/hosts.go`, the same in containerd 1.7 and 2.x; checked against a real
 * containerd 1.6 by tests/containerd_real_pull_test.ts):
 *
 * - An image `quay.io/k0sproject/coredns:1.12.2` is looked up in `certs.d/quay.io/hosts.toml`
 *   (for `host:port`, `host_port_` is tried before `host:port`, then `_default`).
 * - Each `[host."<url>"]` is tried in file order, then `server`. A 404 moves on to the next
 *   host; connection errors do too.
 * - A request goes to `<scheme>://<host><path>/<repository>/manifests/<ref>` where
 *   `<repository>` is the image path without its registry (`k0sproject/coredns`) and
 *   `<path>` comes from the host URL: without `override_path`, containerd appends `/v2` to any
 *   URL path not already ending in `/v2` (so `http://r:5000/v2/k0rdent-enterprise` would become
 *   `/v2/k0rdent-enterprise/v2`, a 404); with `override_path = true` the URL path is used as
 *   the API root exactly as written.
 * - Our registry holds images under `<prefix>/<bundle path>` (e.g.
 *   `k0rdent-enterprise/k0sproject/coredns`), upstream has them at `k0sproject/coredns`. The
 *   mirror host is therefore `<scheme>://<registry>/v2/<prefix>` with `override_path = true`,
 *   so the pull above becomes `GET <registry>/v2/k0rdent-enterprise/k0sproject/coredns/
 *   manifests/1.12.2?ns=quay.io` (containerd adds `ns`, query-encoded; registries ignore it).
 * - registry.mirantis.com already serves the Enterprise images under `k0rdent-enterprise/`
 *   (inferred from the Enterprise chart's address), i.e. the same path as locally when the
 *   prefix is `k0rdent-enterprise`; for it a 1:1 host (plain `/v2`) comes first and the
 *   prefixed one second, so both layouts resolve without a miss on the common one.
 * - Every file has at least one `[host]` table: containerd 1.5/1.6 reject a hosts.toml
 *   without one and silently fall back to the docker certificate layout.
 * - `server` is the upstream (a last resort, online) or, in an air gap, the local endpoint
 *   again, so that containerd never tries the Internet and a missing image reports the
 *   registry's 404 instead of a DNS failure. Root-level `override_path`/`ca`/`capabilities`
 *   apply to `server`.
 * - Replicas (several registry addresses, `registry --sync-from`): every file lists every
 *   registry in the configured order, so a pull goes on when one registry is down (containerd
 *   `core/remotes/docker/resolver.go` and `fetcher.go` try the hosts of `config/hosts.go` in
 *   order, moving to the next on a connection error or an error status). Each replica's own
 *   `host:port` gets a file too (images may be named after any of them). They share one CA
 *   (`ca` applies to all).
 * - `http://` hosts are plain HTTP (no `skip_verify`); `https://` hosts get `ca = "<file>"`
 *   when a private CA is given; the CA itself is one of the generated files.
 *
 * The drop-in's schema follows k0s's containerd: 1.7 (`version = 2`, plugin
 * `io.containerd.grpc.v1.cri`) before k0s 1.36, 2.x (`version = 3`, plugin
 * `io.containerd.cri.v1.images`) from k0s 1.36 on.
 */
import { posix } from "node:path";
import { stringify } from "smol-toml";
import type { Config } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { HOST } from "../host/paths.ts";
import {
  clusterEndpoint,
  endpointAddresses,
  localRegistryAliases,
  type RegistryEndpoint,
  registryURL,
} from "../airgap_registry/endpoint.ts";

/** A file to write: `path` is relative to `/etc/k0s/containerd.d`. */
export interface GeneratedFile {
  path: string;
  content: string;
  /** File mode; default 0644. The credentials drop-in is 0600. */
  mode?: number;
}

/** Everything the drop-ins depend on. */
export interface ContainerdMirrorOptions {
  /** The k0s version (`v1.32.8+k0s.0`); chooses the containerd config schema. */
  k0sVersion: string;
  /** The local registry. */
  registry: RegistryEndpoint;
  /** Upstream registries the local registry stands in for (`quay.io`, `docker.io`, ...). */
  mirrors: readonly string[];
  /** PEM text of the CA of the registry's certificate (HTTPS only); "" trusts the system roots. */
  caPem: string;
  /** Keep the upstream registry as the last resort (online); false in an air gap. */
  upstreamFallback: boolean;
  /**
   * Other names of the local registry itself, served 1:1 like its own address: e.g. the
   * `localhost:5000` that the first node's k0s.yaml names images after, on another node.
   */
  aliases?: readonly string[];
  /**
   * The directory the files will be written to (default `/etc/k0s/containerd.d`):
   * `config_path` and the `ca` paths point into it. Only the real-containerd test, which runs
   * a private containerd on a temp directory, passes another.
   */
  dropInDir?: string;
  /** Pull credentials of the registry (an existing Harbor/Distribution), if it needs them. */
  auth?: { username: string; password: string };
}

/** The drop-in file name under `/etc/k0s/containerd.d`. */
export const CRI_REGISTRY_FILE = "cri-registry.toml";
/** The credentials drop-in (mode 0600) under `/etc/k0s/containerd.d`. */
export const REGISTRY_AUTH_FILE = "registry-auth.toml";

/** The first k0s minor release that ships containerd 2. */
const CONTAINERD2_K0S_MINOR = 36;

/**
 * Upstream registries whose repositories already start with a namespace that the bundle
 * uses as its prefix, so their paths are the same locally (see the module comment).
 */
const NATIVE_NAMESPACE: Readonly<Record<string, string>> = {
  "registry.mirantis.com": "k0rdent-enterprise",
};

const MIRROR_HOST =
  /^(_default|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?)$/;
const CAPABILITIES = ["pull", "resolve"];
const HEADER = "# Generated by k0rdentd; rewritten on every install.\n";

/**
 * The containerd config schema version for a k0s version: 2 (containerd 1.7) before
 * k0s 1.36, 3 (containerd 2.x) from 1.36 on.
 */
export function containerdConfigVersion(k0sVersion: string): 2 | 3 {
  const m = /^v?(\d+)\.(\d+)\.\d+/.exec(k0sVersion);
  if (!m) {
    throw new UserError(
      `Cannot pick the containerd config schema for k0s version "${k0sVersion}": expected a version such as v1.32.8+k0s.0`,
    );
  }
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || minor >= CONTAINERD2_K0S_MINOR ? 3 : 2;
}

/**
 * The options for a configuration: the registry as the cluster reaches it, with this host's
 * own names for it as aliases; `caPem` is read by the caller from `airgap.registry.caFile`.
 */
export function containerdMirrorOptions(
  config: Config,
  extra: { caPem: string; upstreamFallback: boolean },
): ContainerdMirrorOptions {
  return {
    k0sVersion: config.k0s.version,
    registry: clusterEndpoint(config),
    mirrors: config.airgap.registry.mirrors,
    aliases: localRegistryAliases(config),
    ...(config.airgap.registry.username
      ? {
        auth: {
          username: config.airgap.registry.username,
          password: config.airgap.registry.password,
        },
      }
      : {}),
    ...extra,
  };
}

/**
 * All drop-in files, in a stable order: `cri-registry.toml`, the registry's CA (HTTPS with a
 * private CA), the registry's own `hosts.toml` (and one per alias), then one per mirror.
 */
export function containerdMirrorFiles(options: ContainerdMirrorOptions): GeneratedFile[] {
  const { registry } = options;
  const dropInDir = options.dropInDir ?? HOST.containerdDropIns;
  const tls = !registry.insecure && options.caPem.trim() !== "";
  const files: GeneratedFile[] = [
    { path: CRI_REGISTRY_FILE, content: criRegistryToml(options.k0sVersion, dropInDir) },
  ];
  const addresses = endpointAddresses(registry);
  if (options.auth?.username) {
    files.push({
      path: REGISTRY_AUTH_FILE,
      content: registryAuthToml(options.k0sVersion, addresses, options.auth),
      mode: 0o600,
    });
  }
  const caFile = posix.join("certs.d", registry.address, "ca.crt");
  if (tls) {
    const pem = options.caPem.endsWith("\n") ? options.caPem : `${options.caPem}\n`;
    files.push({ path: caFile, content: pem });
  }
  const ca = tls ? { ca: posix.join(dropInDir, caFile) } : {};
  // Replicas: every registry, in order (containerd falls back to the next on errors).
  const urls = addresses.map((address) => registryURL({ ...registry, address }));
  const own = urls[0];
  const ownHosts = Object.fromEntries(urls.map((u) => [u, { capabilities: CAPABILITIES, ...ca }]));
  const served = addresses.length > 1 ? `${addresses.join(", ")} (in this order)` : addresses[0];

  const aliases = uniqueMirrors(
    [...addresses.slice(1), ...(options.aliases ?? [])],
    registry.address,
  );
  for (const name of [registry.address, ...aliases]) {
    files.push({
      path: hostsTomlPath(name),
      content: renderHosts(
        `the local registry ${served}${name === registry.address ? "" : ` as ${name}`}`,
        { server: own, ...ca, host: ownHosts },
      ),
    });
  }

  const mirrors = uniqueMirrors(options.mirrors, registry.address).filter((m) =>
    !aliases.includes(m)
  );
  for (const mirror of mirrors) {
    const endpoints = addresses.flatMap((address) =>
      mirrorEndpoints(mirror, { ...registry, address })
    );
    const host = Object.fromEntries(
      endpoints.map((e) => [e.url, { capabilities: CAPABILITIES, ...e.extra, ...ca }]),
    );
    const upstream = upstreamServer(mirror);
    const last = endpoints[endpoints.length - 1];
    const root = options.upstreamFallback
      ? (upstream ? { server: upstream } : {})
      : { server: last.url, capabilities: CAPABILITIES, ...last.extra, ...ca };
    files.push({
      path: hostsTomlPath(mirror),
      content: renderHosts(`${mirror} served by ${served}`, { ...root, host }),
    });
  }
  return files;
}

/**
 * The drop-in with the registry's pull credentials, keyed by each host containerd contacts (every
 * generated hosts.toml leads to `addresses`, the registry and its replicas). hosts.toml has no credentials field; the CRI plugin
 * still reads `registry.configs."<host>".auth` when `config_path` is set and the kubelet sent
 * none (containerd 1.7 `pkg/cri/server/image_pull.go`, 2.x
 * `internal/cri/server/images/image_pull.go`; deprecated there but kept "until a suitable secret
 * management alternative is available", `docs/cri/registry.md`). k0s merges every drop-in that
 * names the CRI plugin into its CRI config (k0s < 1.36, `pkg/component/worker/containerd`), or
 * containerd 2 imports it (k0s >= 1.36). Written mode 0600.
 */
export function registryAuthToml(
  k0sVersion: string,
  addresses: readonly string[],
  auth: { username: string; password: string },
): string {
  const version = containerdConfigVersion(k0sVersion);
  const plugin = version === 3 ? "io.containerd.cri.v1.images" : "io.containerd.grpc.v1.cri";
  return HEADER + "# Secret: pull credentials of the registry.\n" + stringify({
    version,
    plugins: {
      [plugin]: {
        registry: {
          configs: Object.fromEntries(
            addresses.map((
              a,
            ) => [a, { auth: { username: auth.username, password: auth.password } }]),
          ),
        },
      },
    },
  });
}

/** The `cri-registry.toml` drop-in pointing containerd at `<dropInDir>/certs.d`. */
export function criRegistryToml(
  k0sVersion: string,
  dropInDir: string = HOST.containerdDropIns,
): string {
  const version = containerdConfigVersion(k0sVersion);
  const plugin = version === 3 ? "io.containerd.cri.v1.images" : "io.containerd.grpc.v1.cri";
  return HEADER + stringify({
    version,
    plugins: { [plugin]: { registry: { config_path: posix.join(dropInDir, "certs.d") } } },
  });
}

/** `certs.d/<host>/hosts.toml`, relative to `/etc/k0s/containerd.d`. */
export function hostsTomlPath(host: string): string {
  return posix.join("certs.d", host, "hosts.toml");
}

interface Endpoint {
  url: string;
  extra: { override_path?: boolean };
}

/** The local endpoints standing in for `mirror`, in the order containerd should try them. */
function mirrorEndpoints(mirror: string, registry: RegistryEndpoint): Endpoint[] {
  const base = registryURL(registry);
  if (!registry.prefix) return [{ url: base, extra: {} }];
  const prefixed = { url: `${base}/v2/${registry.prefix}`, extra: { override_path: true } };
  if (NATIVE_NAMESPACE[mirror] === registry.prefix) return [{ url: base, extra: {} }, prefixed];
  return [prefixed];
}

/** The upstream server of a registry host namespace, or undefined for `_default`. */
function upstreamServer(mirror: string): string | undefined {
  if (mirror === "_default") return undefined;
  return mirror === "docker.io" ? "https://registry-1.docker.io" : `https://${mirror}`;
}

function uniqueMirrors(mirrors: readonly string[], registryAddress: string): string[] {
  const out: string[] = [];
  for (const raw of mirrors) {
    const mirror = raw.trim();
    if (!MIRROR_HOST.test(mirror)) {
      throw new UserError(
        `Invalid registry mirror "${raw}" in airgap.registry.mirrors: expected a host such as quay.io or host:port`,
      );
    }
    if (mirror !== registryAddress && !out.includes(mirror)) out.push(mirror);
  }
  return out;
}

function renderHosts(what: string, doc: Record<string, unknown>): string {
  return `${HEADER}# Registry host namespace: ${what}.\n${stringify(doc)}`;
}

import assert from "node:assert/strict";
import { parse } from "smol-toml";
import { defaultConfig } from "../config/defaults.ts";
import { getPath } from "../config/merge.ts";
import { UserError } from "../errors.ts";
import { assertGolden } from "../../tests/helpers/golden.ts";
import { registryURLs } from "../../tests/helpers/containerd_resolver.ts";
import {
  containerdConfigVersion,
  containerdMirrorFiles,
  type ContainerdMirrorOptions,
  containerdMirrorOptions,
  criRegistryToml,
  type GeneratedFile,
} from "./containerd_mirrors.ts";

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfakeCAforTests\n-----END CERTIFICATE-----\n";
const MIRRORS = ["registry.mirantis.com", "quay.io", "registry.k8s.io", "docker.io", "ghcr.io"];

function options(over: Partial<ContainerdMirrorOptions> = {}): ContainerdMirrorOptions {
  return {
    k0sVersion: "v1.32.8+k0s.0",
    registry: { address: "10.0.0.5:5000", prefix: "k0rdent-enterprise", insecure: true },
    mirrors: MIRRORS,
    caPem: "",
    upstreamFallback: false,
    ...over,
  };
}

const TLS = {
  registry: { address: "reg.example:5443", prefix: "k0rdent-enterprise", insecure: false },
};

/** A parsed hosts.toml. */
interface HostsDoc {
  server?: string;
  ca?: string;
  host: Record<string, Record<string, unknown>>;
}

function hostsDoc(text: string): HostsDoc {
  return parse(text) as unknown as HostsDoc;
}

function byPath(files: GeneratedFile[]): Map<string, string> {
  return new Map(files.map((f) => [f.path, f.content]));
}

/** The manifest URLs containerd requests for `image`, without the `ns` query. */
function manifestURLs(files: GeneratedFile[], image: string): string[] {
  return registryURLs(files, image).map((u) => u.replace(/\?ns=.*$/, ""));
}

Deno.test("manifestURLs() follows containerd: /v2 is appended unless override_path", () => {
  const file = (toml: string) => [{ path: "certs.d/quay.io/hosts.toml", content: toml }];
  const plain =
    'server = "https://quay.io"\n[host."http://r:5000/v2/p"]\ncapabilities = ["pull"]\n';
  assert.deepEqual(manifestURLs(file(plain), "quay.io/a/b:1"), [
    "http://r:5000/v2/p/v2/a/b/manifests/1",
    "https://quay.io/v2/a/b/manifests/1",
  ]);
  const over = plain + "override_path = true\n";
  assert.equal(manifestURLs(file(over), "quay.io/a/b:1")[0], "http://r:5000/v2/p/a/b/manifests/1");
});

Deno.test("containerdConfigVersion() picks containerd 2.x from k0s 1.36 on", () => {
  assert.equal(containerdConfigVersion("v1.27.1+k0s.0"), 2);
  assert.equal(containerdConfigVersion("v1.32.8+k0s.0"), 2);
  assert.equal(containerdConfigVersion("v1.35.9+k0s.1"), 2);
  assert.equal(containerdConfigVersion("v1.36.0+k0s.0"), 3);
  assert.equal(containerdConfigVersion("v1.40.2+k0s.0"), 3);
  assert.equal(containerdConfigVersion("v2.0.0+k0s.0"), 3);
  assert.throws(() => containerdConfigVersion("latest"), UserError);
});

Deno.test("criRegistryToml() matches its goldens and points at certs.d (v2 and v3)", async () => {
  const v2 = criRegistryToml("v1.32.8+k0s.0");
  const v3 = criRegistryToml("v1.36.1+k0s.0");
  await assertGolden(import.meta.url, "cri-registry.v2.toml.golden", v2);
  await assertGolden(import.meta.url, "cri-registry.v3.toml.golden", v3);
  const [p2, p3] = [parse(v2), parse(v3)];
  const configPath = (doc: unknown, plugin: string) =>
    getPath(doc, ["plugins", plugin, "registry", "config_path"]);
  assert.equal(p2.version, 2);
  assert.equal(configPath(p2, "io.containerd.grpc.v1.cri"), "/etc/k0s/containerd.d/certs.d");
  assert.equal(p3.version, 3);
  assert.equal(configPath(p3, "io.containerd.cri.v1.images"), "/etc/k0s/containerd.d/certs.d");
  assert.equal(configPath(p3, "io.containerd.grpc.v1.cri"), undefined);
});

for (const [name, over] of [["plain", {}], ["tls", { ...TLS, caPem: CA_PEM }]] as const) {
  Deno.test(`containerdMirrorFiles() ${name}: every file matches its golden`, async () => {
    const files = containerdMirrorFiles(options(over));
    for (const f of files) {
      await assertGolden(import.meta.url, `containerd_${name}/${f.path}.golden`, f.content);
    }
    assert.deepEqual(files.map((f) => f.path), [
      "cri-registry.toml",
      ...(name === "tls" ? ["certs.d/reg.example:5443/ca.crt"] : []),
      `certs.d/${name === "tls" ? "reg.example:5443" : "10.0.0.5:5000"}/hosts.toml`,
      ...MIRRORS.map((m) => `certs.d/${m}/hosts.toml`),
    ]);
  });
}

const REPLICAS = {
  registry: {
    address: "10.0.0.5:5000",
    fallbacks: ["10.0.0.6:5000", "10.0.0.7:5000"],
    prefix: "k0rdent-enterprise",
    insecure: false,
  },
  caPem: CA_PEM,
};

Deno.test("containerdMirrorFiles() replicas: every file lists every registry in order (goldens)", async () => {
  const files = containerdMirrorFiles(options(REPLICAS));
  for (const f of files) {
    await assertGolden(import.meta.url, `containerd_replicas/${f.path}.golden`, f.content);
  }
  assert.deepEqual(files.map((f) => f.path), [
    "cri-registry.toml",
    "certs.d/10.0.0.5:5000/ca.crt",
    "certs.d/10.0.0.5:5000/hosts.toml",
    "certs.d/10.0.0.6:5000/hosts.toml",
    "certs.d/10.0.0.7:5000/hosts.toml",
    ...MIRRORS.map((m) => `certs.d/${m}/hosts.toml`),
  ]);
  const regs = ["10.0.0.5:5000", "10.0.0.6:5000", "10.0.0.7:5000"];
  // Named after any replica, an image is looked up at each of them, first to last.
  for (const name of regs) {
    assert.deepEqual(
      manifestURLs(files, `${name}/k0rdent-enterprise/kcm-controller:1.2.3`),
      [...regs, regs[0]].map((r) =>
        `https://${r}/v2/k0rdent-enterprise/kcm-controller/manifests/1.2.3`
      ),
    );
  }
  assert.deepEqual(
    manifestURLs(files, "quay.io/k0sproject/coredns:1.12.2"),
    [...regs, regs[2]].map((r) =>
      `https://${r}/v2/k0rdent-enterprise/k0sproject/coredns/manifests/1.12.2`
    ),
  );
  for (const f of files.filter((f) => f.path.endsWith("hosts.toml"))) {
    const doc = hostsDoc(f.content);
    assert.deepEqual(
      Object.keys(doc.host).map((u) => new URL(u).host),
      f.path.includes("registry.mirantis.com") ? regs.flatMap((r) => [r, r]) : regs,
      f.path,
    );
    for (const h of Object.values(doc.host)) {
      assert.equal(h.ca, "/etc/k0s/containerd.d/certs.d/10.0.0.5:5000/ca.crt");
    }
  }
});

Deno.test("containerdMirrorOptions() with several addresses: the advertised list, in order", () => {
  const config = defaultConfig();
  config.airgap.registry.address = "localhost:5000,10.0.0.6:5000";
  config.airgap.registry.advertiseAddress = "10.0.0.5:5000,10.0.0.6:5000";
  config.airgap.registry.username = "puller";
  config.airgap.registry.password = "pw";
  const opts = containerdMirrorOptions(config, { caPem: "", upstreamFallback: false });
  assert.deepEqual(opts.registry.address, "10.0.0.5:5000");
  assert.deepEqual(opts.registry.fallbacks, ["10.0.0.6:5000"]);
  const auth = containerdMirrorFiles(opts).find((f) => f.path === "registry-auth.toml")!;
  const configs = getPath(parse(auth.content), [
    "plugins",
    "io.containerd.grpc.v1.cri",
    "registry",
    "configs",
  ]) as Record<string, unknown>;
  assert.deepEqual(Object.keys(configs), ["10.0.0.5:5000", "10.0.0.6:5000"]);
});

Deno.test("containerdMirrorFiles() air gap: upstream paths resolve under the prefix, never upstream", () => {
  const files = containerdMirrorFiles(options());
  const reg = "http://10.0.0.5:5000/v2";
  assert.deepEqual(manifestURLs(files, "quay.io/k0sproject/coredns:1.12.2"), [
    `${reg}/k0rdent-enterprise/k0sproject/coredns/manifests/1.12.2`,
    `${reg}/k0rdent-enterprise/k0sproject/coredns/manifests/1.12.2`,
  ]);
  assert.equal(
    manifestURLs(files, "docker.io/library/nginx:1.27")[0],
    `${reg}/k0rdent-enterprise/library/nginx/manifests/1.27`,
  );
  assert.equal(
    manifestURLs(files, "ghcr.io/fluxcd/helm-controller:v1.2.0")[0],
    `${reg}/k0rdent-enterprise/fluxcd/helm-controller/manifests/v1.2.0`,
  );
  // registry.mirantis.com already uses the prefix: 1:1 first, prefixed second.
  assert.deepEqual(
    manifestURLs(files, "registry.mirantis.com/k0rdent-enterprise/kcm-controller:1.2.3").slice(
      0,
      2,
    ),
    [
      `${reg}/k0rdent-enterprise/kcm-controller/manifests/1.2.3`,
      `${reg}/k0rdent-enterprise/k0rdent-enterprise/kcm-controller/manifests/1.2.3`,
    ],
  );
  assert.equal(
    manifestURLs(files, "10.0.0.5:5000/k0rdent-enterprise/kcm-controller:1.2.3")[0],
    `${reg}/k0rdent-enterprise/kcm-controller/manifests/1.2.3`,
  );
  for (const image of ["quay.io/a/b:1", "registry.k8s.io/pause:3.10", "docker.io/x/y:2"]) {
    for (const url of manifestURLs(files, image)) assert.ok(url.startsWith(reg), url);
  }
});

Deno.test("containerdMirrorFiles() online: the upstream stays the last resort", () => {
  const files = containerdMirrorFiles(options({ upstreamFallback: true }));
  assert.deepEqual(manifestURLs(files, "docker.io/library/nginx:1.27"), [
    "http://10.0.0.5:5000/v2/k0rdent-enterprise/library/nginx/manifests/1.27",
    "https://registry-1.docker.io/v2/library/nginx/manifests/1.27",
  ]);
  assert.equal(
    manifestURLs(files, "quay.io/k0sproject/coredns:1.12.2").at(-1),
    "https://quay.io/v2/k0sproject/coredns/manifests/1.12.2",
  );
});

Deno.test("containerdMirrorFiles() plain HTTP: http hosts only, no ca, no skip_verify", () => {
  for (const f of containerdMirrorFiles(options())) {
    if (!f.path.endsWith("hosts.toml")) continue;
    const doc = hostsDoc(f.content);
    assert.ok(
      Object.keys(doc.host).length > 0,
      `${f.path} needs a [host] table for containerd 1.7`,
    );
    for (const [url, cfg] of Object.entries(doc.host)) {
      assert.ok(url.startsWith("http://10.0.0.5:5000"), url);
      assert.equal(cfg.ca, undefined);
      assert.equal(cfg.skip_verify, undefined);
      assert.deepEqual(cfg.capabilities, ["pull", "resolve"]);
    }
    assert.equal(doc.ca, undefined);
    assert.ok(!f.content.includes("skip_verify"));
  }
});

Deno.test("containerdMirrorFiles() TLS: https hosts trust the generated CA file", () => {
  const files = byPath(containerdMirrorFiles(options({ ...TLS, caPem: CA_PEM })));
  assert.equal(files.get("certs.d/reg.example:5443/ca.crt"), CA_PEM);
  const caPath = "/etc/k0s/containerd.d/certs.d/reg.example:5443/ca.crt";
  for (const [path, content] of files) {
    if (!path.endsWith("hosts.toml")) continue;
    const doc = hostsDoc(content);
    assert.equal(doc.ca, caPath, path);
    assert.ok(doc.server?.startsWith("https://reg.example:5443"), path);
    for (const [url, cfg] of Object.entries(doc.host)) {
      assert.ok(url.startsWith("https://reg.example:5443"), url);
      assert.equal(cfg.ca, caPath);
    }
  }
});

Deno.test("containerdMirrorFiles() dropInDir moves config_path and the ca paths only", () => {
  const moved = byPath(containerdMirrorFiles(options({ ...TLS, caPem: CA_PEM, dropInDir: "/t" })));
  const files = byPath(containerdMirrorFiles(options({ ...TLS, caPem: CA_PEM })));
  assert.match(moved.get("cri-registry.toml")!, /config_path = "\/t\/certs\.d"/);
  assert.equal(
    hostsDoc(moved.get("certs.d/quay.io/hosts.toml")!).ca,
    "/t/certs.d/reg.example:5443/ca.crt",
  );
  assert.deepEqual([...moved.keys()], [...files.keys()]);
  for (const [path, content] of moved) {
    assert.equal(content.replaceAll('"/t/', '"/etc/k0s/containerd.d/'), files.get(path), path);
  }
});

Deno.test("containerdMirrorFiles() TLS without a CA trusts the system roots", () => {
  const files = containerdMirrorFiles(options(TLS));
  assert.ok(files.every((f) => !f.path.endsWith("ca.crt") && !f.content.includes("ca =")));
  assert.ok(files.some((f) => f.content.includes('server = "https://reg.example:5443')));
});

Deno.test("containerdMirrorFiles() without a prefix maps paths 1:1", () => {
  const files = containerdMirrorFiles(
    options({ registry: { address: "localhost:5000", prefix: "", insecure: true } }),
  );
  assert.ok(files.every((f) => !f.content.includes("override_path")));
  assert.equal(
    manifestURLs(files, "quay.io/k0sproject/coredns:1.12.2")[0],
    "http://localhost:5000/v2/k0sproject/coredns/manifests/1.12.2",
  );
});

Deno.test("containerdMirrorFiles() skips the registry itself and duplicates among mirrors", () => {
  const files = containerdMirrorFiles(
    options({
      mirrors: ["quay.io", " quay.io", "10.0.0.5:5000", "_default"],
      upstreamFallback: true,
    }),
  );
  assert.deepEqual(files.map((f) => f.path), [
    "cri-registry.toml",
    "certs.d/10.0.0.5:5000/hosts.toml",
    "certs.d/quay.io/hosts.toml",
    "certs.d/_default/hosts.toml",
  ]);
  // _default has no upstream of its own: containerd falls back to the image's registry.
  const doc = parse(byPath(files).get("certs.d/_default/hosts.toml")!);
  assert.equal(doc.server, undefined);
  assert.equal(
    manifestURLs(files, "example.org/team/app:1")[0],
    "http://10.0.0.5:5000/v2/k0rdent-enterprise/team/app/manifests/1",
  );
});

Deno.test("containerdMirrorFiles() rejects mirrors that are not a host[:port]", () => {
  for (const bad of ["https://quay.io", "../../etc", "quay.io/k0sproject", "", "a b"]) {
    assert.throws(
      () => containerdMirrorFiles(options({ mirrors: [bad] })),
      (err: Error) => err instanceof UserError && err.message.includes("Invalid registry mirror"),
      bad,
    );
  }
  for (const good of ["quay.io", "mirror.local:5001", "[fd00::1]:5000", "_default"]) {
    containerdMirrorFiles(options({ mirrors: [good] }));
  }
});

Deno.test("containerdMirrorOptions() maps the configuration: the cluster's address, local names as aliases", () => {
  const config = defaultConfig();
  config.k0s.version = "v1.36.0+k0s.0";
  config.airgap.registry.prefix = "/k0rdent-enterprise/";
  config.airgap.registry.advertiseAddress = "10.0.0.5:5000";
  const opts = containerdMirrorOptions(config, { caPem: "", upstreamFallback: false });
  assert.deepEqual(opts, {
    k0sVersion: "v1.36.0+k0s.0",
    registry: { address: "10.0.0.5:5000", prefix: "k0rdent-enterprise", insecure: false },
    mirrors: MIRRORS,
    aliases: ["localhost:5000", "127.0.0.1:5000"],
    caPem: "",
    upstreamFallback: false,
  });
  assert.ok(containerdMirrorFiles(opts)[0].content.includes("version = 3"));
});

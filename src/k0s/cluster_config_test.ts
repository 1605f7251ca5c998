import assert from "node:assert/strict";
import { parse } from "yaml";
import { defaultConfig } from "../config/defaults.ts";
import { UserError } from "../errors.ts";
import { registryEndpoint, repositoryBase } from "../airgap_registry/endpoint.ts";
import { assertGolden } from "../../tests/helpers/golden.ts";
import {
  clusterConfigObject,
  type ClusterConfigOptions,
  clusterConfigOptions,
  renderClusterConfig,
} from "./cluster_config.ts";

function options(over: Partial<ClusterConfigOptions> = {}): ClusterConfigOptions {
  return { ...clusterConfigOptions(defaultConfig(), undefined), ...over };
}

const AIRGAP_REPO = "10.0.0.5:5000/k0rdent-enterprise";

const PASSTHROUGH = `spec:
  telemetry:
    enabled: false
  network:
    provider: calico
    calico:
      mode: vxlan
  images:
    default_pull_policy: IfNotPresent
`;

Deno.test("renderClusterConfig() matches its goldens (online, air gap, passthrough)", async () => {
  await assertGolden(import.meta.url, "k0s.online.yaml.golden", renderClusterConfig(options()));
  await assertGolden(
    import.meta.url,
    "k0s.airgap.yaml.golden",
    renderClusterConfig(options({ imagesRepository: AIRGAP_REPO })),
  );
  await assertGolden(
    import.meta.url,
    "k0s.passthrough.yaml.golden",
    renderClusterConfig(options({
      imagesRepository: AIRGAP_REPO,
      api: { address: "10.0.0.5", port: 6443 },
      storage: { type: "kine", kineDataSource: "sqlite:///var/lib/k0s/db/state.db" },
      passthrough: PASSTHROUGH,
    })),
  );
});

Deno.test("renderClusterConfig() emits a ClusterConfig named k0s", () => {
  const doc = parse(renderClusterConfig(options()));
  assert.equal(doc.apiVersion, "k0s.k0sproject.io/v1beta1");
  assert.equal(doc.kind, "ClusterConfig");
  assert.equal(doc.metadata.name, "k0s");
  assert.deepEqual(doc.spec.network, {
    provider: "kuberouter",
    podCIDR: "10.244.0.0/16",
    serviceCIDR: "10.96.0.0/12",
  });
  assert.deepEqual(doc.spec.api, { port: 6443 });
  assert.deepEqual(doc.spec.storage, { type: "etcd" });
  assert.equal(doc.spec.images, undefined);
});

Deno.test("clusterConfigObject() air gap: images come from the registry, never Never", () => {
  const config = defaultConfig();
  config.airgap.registry.address = "10.0.0.5:5000";
  const repo = repositoryBase(registryEndpoint(config));
  const doc = clusterConfigObject(clusterConfigOptions(config, repo));
  assert.deepEqual((doc.spec as Record<string, unknown>).images, { repository: AIRGAP_REPO });
  assert.ok(!renderClusterConfig(clusterConfigOptions(config, repo)).includes("Never"));
  assert.throws(
    () =>
      clusterConfigObject(options({
        imagesRepository: AIRGAP_REPO,
        passthrough: { spec: { images: { default_pull_policy: "Never" } } },
      })),
    (err: Error) => err instanceof UserError && err.message.includes("IfNotPresent"),
  );
  // Online, Never is the user's business (e.g. preloaded image bundles).
  clusterConfigObject(
    options({ passthrough: { spec: { images: { default_pull_policy: "Never" } } } }),
  );
});

Deno.test("clusterConfigObject() merges the passthrough over the generated config", () => {
  for (const passthrough of [PASSTHROUGH, parse(PASSTHROUGH)]) {
    const doc = clusterConfigObject(options({ imagesRepository: AIRGAP_REPO, passthrough }));
    const spec = doc.spec as Record<string, Record<string, unknown>>;
    assert.deepEqual(spec.telemetry, { enabled: false });
    assert.equal(spec.network.provider, "calico");
    assert.equal(spec.network.podCIDR, "10.244.0.0/16");
    assert.deepEqual(spec.network.calico, { mode: "vxlan" });
    assert.deepEqual(spec.images, {
      repository: AIRGAP_REPO,
      default_pull_policy: "IfNotPresent",
    });
  }
  // The user's fragment wins, even over the air-gap repository.
  const doc = clusterConfigObject(options({
    imagesRepository: AIRGAP_REPO,
    passthrough: "spec:\n  images:\n    repository: mirror.local/k0s\n",
  }));
  assert.deepEqual((doc.spec as Record<string, unknown>).images, {
    repository: "mirror.local/k0s",
  });
});

Deno.test("clusterConfigObject() ignores an empty passthrough and rejects bad ones", () => {
  assert.deepEqual(
    clusterConfigObject(options({ passthrough: "" })),
    clusterConfigObject(options()),
  );
  assert.deepEqual(
    clusterConfigObject(options({ passthrough: "# nothing\n" })),
    clusterConfigObject(options()),
  );
  const cases: [ClusterConfigOptions["passthrough"], string][] = [
    ["spec: [unclosed", "Cannot parse k0s.config"],
    ["- a\n- b\n", "expected a mapping"],
    ["kind: Cluster\n", "apiVersion and kind"],
    ["apiVersion: v1\n", "apiVersion and kind"],
    ["spec: 3\n", "spec must be a mapping"],
  ];
  for (const [passthrough, message] of cases) {
    assert.throws(
      () => clusterConfigObject(options({ passthrough })),
      (err: Error) => err instanceof UserError && err.message.includes(message),
      String(passthrough),
    );
  }
});

Deno.test("clusterConfigObject() kine: dataSource only when given", () => {
  const kine = (kineDataSource?: string) =>
    (clusterConfigObject(options({ storage: { type: "kine", kineDataSource } })).spec as Record<
      string,
      unknown
    >).storage;
  assert.deepEqual(kine(), { type: "kine" });
  assert.deepEqual(kine("sqlite:///x.db"), {
    type: "kine",
    kine: { dataSource: "sqlite:///x.db" },
  });
});

import assert from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { defaultConfig } from "../config/defaults.ts";
import { getPath } from "../config/merge.ts";
import { assertGolden } from "../../tests/helpers/golden.ts";
import { airgapChartRef, helmUpgradeInstallArgs } from "./helm_command.ts";
import {
  airgapK0sURL,
  helmValues,
  type HelmValuesOptions,
  helmValuesOptions,
  REGISTRY_CA_SECRET,
  REGISTRY_CREDS_SECRET,
  registrySecretsManifest,
  releaseNameProblem,
  renderHelmValues,
  usesRegionalValues,
} from "./helm_values.ts";

const PLAIN = { address: "10.0.0.5:5000", prefix: "k0rdent-enterprise", insecure: true };
const TLS = { address: "registry.local:5443", prefix: "k0rdent-enterprise", insecure: false };
const ENTERPRISE = "oci://10.0.0.5:5000/k0rdent-enterprise/charts/k0rdent-enterprise";

function airgap(over: Partial<HelmValuesOptions> = {}): HelmValuesOptions {
  return {
    chart: ENTERPRISE,
    version: "1.2.3",
    airgap: { registry: PLAIN },
    userValues: {},
    ...over,
  };
}

/** Every `repository`/`image` string in `values`, with its dotted path. */
function imageRefs(values: unknown, path: string[] = []): [string, string][] {
  if (typeof values !== "object" || values === null) return [];
  return Object.entries(values).flatMap(([k, v]) =>
    typeof v === "string" && (k === "repository" || k === "image")
      ? [[[...path, k].join("."), v] as [string, string]]
      : imageRefs(v, [...path, k])
  );
}

Deno.test("renderHelmValues() matches its goldens (online, air gap plain HTTP and TLS)", async () => {
  const config = defaultConfig();
  config.k0rdent.helm.values = { "k0rdent-ui": { enabled: true } };
  await assertGolden(
    import.meta.url,
    "values.online.yaml.golden",
    renderHelmValues(helmValuesOptions(config, false)),
  );
  await assertGolden(import.meta.url, "values.airgap-http.yaml.golden", renderHelmValues(airgap()));
  await assertGolden(
    import.meta.url,
    "values.airgap-tls.yaml.golden",
    renderHelmValues(airgap({
      chart: "oci://registry.local:5443/k0rdent-enterprise/charts/k0rdent-enterprise",
      airgap: {
        registry: TLS,
        caSecretName: REGISTRY_CA_SECRET,
        k0sURL: "http://10.0.0.5:8080/k0s",
      },
    })),
  );
  await assertGolden(
    import.meta.url,
    "values.airgap-http-1.1.0.yaml.golden",
    renderHelmValues(airgap({ version: "1.1.0" })),
  );
});

Deno.test("helmValues() air gap: every image comes from the local registry", () => {
  for (const version of ["1.1.0", "1.2.3"]) {
    const values = helmValues(airgap({ version }));
    const refs = imageRefs(values);
    assert.ok(refs.length >= 10, `only ${refs.length} images`);
    for (const [path, ref] of refs) {
      assert.ok(ref.startsWith("10.0.0.5:5000/k0rdent-enterprise/"), `${path}=${ref}`);
    }
    assert.equal(
      getPath(values, ["controller", "templatesRepoURL"]),
      "oci://10.0.0.5:5000/k0rdent-enterprise/charts",
    );
    assert.equal(
      getPath(values, ["controller", "globalRegistry"]),
      "10.0.0.5:5000/k0rdent-enterprise",
    );
    // The generated text parses back to the same object.
    assert.deepEqual(parse(renderHelmValues(airgap({ version }))), values);
  }
});

Deno.test("helmValues() puts cert-manager, capi-operator and velero under regional from 1.2", () => {
  const flat = helmValues(airgap({ version: "1.1.0" }));
  const regional = helmValues(airgap({ version: "1.2.3" }));
  for (const sub of ["cert-manager", "cluster-api-operator", "velero"]) {
    assert.ok(sub in flat, sub);
    assert.ok(!(sub in regional), sub);
    assert.ok(sub in (regional.regional as Record<string, unknown>), sub);
  }
  assert.equal(flat.regional, undefined);
  assert.equal(
    getPath(regional, ["regional", "cert-manager", "webhook", "image", "repository"]),
    "10.0.0.5:5000/k0rdent-enterprise/jetstack/cert-manager-webhook",
  );
  assert.equal(
    getPath(flat, ["cluster-api-operator", "image", "manager", "repository"]),
    "10.0.0.5:5000/k0rdent-enterprise/capi-operator/cluster-api-operator",
  );
});

Deno.test("releaseNameProblem() allows another release name from kcm 1.9 only", () => {
  const kcm = "oci://ghcr.io/k0rdent/kcm/charts/kcm";
  const ent = "oci://10.0.0.5:5000/k0rdent-enterprise/charts/k0rdent-enterprise";
  assert.equal(releaseNameProblem(kcm, "1.2.0", "kcm"), null);
  assert.equal(releaseNameProblem(ent, "1.2.3", "kcm"), null);
  assert.match(
    releaseNameProblem(kcm, "1.2.0", "k0rdent") ?? "",
    /releaseName "k0rdent": kcm before 1\.9/,
  );
  assert.notEqual(releaseNameProblem(kcm, "1.8.1", "k0rdent"), null);
  assert.equal(releaseNameProblem(kcm, "1.9.0", "k0rdent"), null);
  assert.equal(releaseNameProblem(kcm, "2.0.0", "k0rdent"), null);
  assert.notEqual(releaseNameProblem(ent, "2.0.0", "k0rdent"), null);
});

Deno.test("usesRegionalValues() follows the chart flavour and version", () => {
  const ent = "oci://r/k0rdent-enterprise/charts/k0rdent-enterprise";
  const kcm = "oci://ghcr.io/k0rdent/kcm/charts/kcm";
  assert.equal(usesRegionalValues(ent, "1.0.0"), false);
  assert.equal(usesRegionalValues(ent, "1.1.0"), false);
  assert.equal(usesRegionalValues(ent, "1.2.0"), true);
  assert.equal(usesRegionalValues(ent, "1.2.3"), true);
  assert.equal(usesRegionalValues(ent, "2.0.0"), true);
  assert.equal(usesRegionalValues(kcm, "1.2.0"), false);
  assert.equal(usesRegionalValues(kcm, "1.3.7"), false);
  assert.equal(usesRegionalValues(kcm, "1.4.0"), true);
  assert.equal(usesRegionalValues(kcm, "1.11.0"), true);
  assert.equal(usesRegionalValues(kcm, "next"), true);
});

Deno.test("helmValues() plain HTTP sets insecureRegistry, TLS sets registryCertSecret", () => {
  const plain = helmValues(airgap());
  assert.equal(getPath(plain, ["controller", "insecureRegistry"]), true);
  assert.equal(getPath(plain, ["controller", "registryCertSecret"]), undefined);
  const tls = helmValues(airgap({ airgap: { registry: TLS, caSecretName: REGISTRY_CA_SECRET } }));
  assert.equal(getPath(tls, ["controller", "insecureRegistry"]), undefined);
  assert.equal(getPath(tls, ["controller", "registryCertSecret"]), REGISTRY_CA_SECRET);
  const publicCa = helmValues(airgap({ airgap: { registry: TLS } }));
  assert.equal(getPath(publicCa, ["controller", "registryCertSecret"]), undefined);
  assert.equal(getPath(publicCa, ["controller", "globalK0sURL"]), undefined);
});

Deno.test("helmValues() user values win and are kept", () => {
  const values = helmValues(airgap({
    userValues: {
      controller: { globalRegistry: "mirror.local/k", enableTelemetry: false },
      "k0rdent-ui": { auth: { basic: { password: "s3cret" } } },
    },
  }));
  assert.equal(getPath(values, ["controller", "globalRegistry"]), "mirror.local/k");
  assert.equal(getPath(values, ["controller", "enableTelemetry"]), false);
  assert.equal(
    getPath(values, ["controller", "templatesRepoURL"]),
    "oci://10.0.0.5:5000/k0rdent-enterprise/charts",
  );
  assert.equal(getPath(values, ["k0rdent-ui", "auth", "basic", "password"]), "s3cret");
  assert.equal(
    getPath(values, ["k0rdent-ui", "image", "repository"]),
    "10.0.0.5:5000/k0rdent-enterprise/k0rdent-ui",
  );
});

Deno.test("helmValues() online: only the user's values", () => {
  const config = defaultConfig();
  assert.deepEqual(helmValues(helmValuesOptions(config, false)), {});
  config.k0rdent.helm.values = { controller: { createTemplates: false } };
  assert.deepEqual(helmValues(helmValuesOptions(config, false)), config.k0rdent.helm.values);
});

Deno.test("helmValuesOptions() air gap uses the local chart and the CA secret for TLS", () => {
  const config = defaultConfig();
  config.k0rdent.version = "1.2.3";
  const plain = helmValuesOptions(config, true);
  assert.equal(plain.chart, "oci://localhost:5000/k0rdent-enterprise/charts/k0rdent-enterprise");
  assert.equal(plain.airgap?.caSecretName, undefined);
  config.airgap.registry = {
    ...config.airgap.registry,
    address: "registry.local:5443",
    insecure: false,
    caFile: "/etc/k0rdentd/ca.crt",
  };
  const tls = helmValuesOptions(config, true);
  assert.equal(tls.airgap?.caSecretName, REGISTRY_CA_SECRET);
  assert.equal(tls.airgap?.k0sURL, "http://registry.local:5080/k0rdent-enterprise");
  config.airgap.k0sURL = "http://files.local/k0s";
  assert.equal(helmValuesOptions(config, true).airgap?.k0sURL, "http://files.local/k0s");
  assert.equal(helmValuesOptions(config, false).chart, "oci://ghcr.io/k0rdent/kcm/charts/kcm");
});

Deno.test("registrySecretsManifest() holds the namespace and the ca.crt Secret", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
  const docs = parseAllDocuments(registrySecretsManifest("kcm-system", { caPem: pem }))
    .map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.kind), ["Namespace", "Secret"]);
  assert.equal(docs[1].metadata.name, REGISTRY_CA_SECRET);
  assert.equal(docs[1].metadata.namespace, "kcm-system");
  assert.equal(docs[1].stringData["ca.crt"], pem);
});

Deno.test("airgapChartRef() and helmUpgradeInstallArgs() build the documented command", () => {
  assert.equal(
    airgapChartRef({ address: "10.0.0.5:5000", prefix: "k0rdent-enterprise", insecure: true }),
    ENTERPRISE,
  );
  const base = {
    releaseName: "kcm",
    chart: ENTERPRISE,
    version: "1.2.3",
    namespace: "kcm-system",
    valuesFile: "/var/lib/k0rdentd/kcm-values.yaml",
  };
  assert.deepEqual(helmUpgradeInstallArgs({ ...base, plainHttp: true }), [
    "upgrade",
    "--install",
    "kcm",
    ENTERPRISE,
    "--version",
    "1.2.3",
    "-n",
    "kcm-system",
    "--create-namespace",
    "-f",
    "/var/lib/k0rdentd/kcm-values.yaml",
    "--plain-http",
  ]);
  assert.deepEqual(
    helmUpgradeInstallArgs({ ...base, caFile: "/etc/ca.crt", kubeconfig: "/k/admin.conf" })
      .slice(-4),
    ["--ca-file", "/etc/ca.crt", "--kubeconfig", "/k/admin.conf"],
  );
  assert.ok(!helmUpgradeInstallArgs(base).includes("--plain-http"));
});

Deno.test("airgapK0sURL() is the files listener on the cluster's registry host, unless set or off", () => {
  const config = defaultConfig();
  config.airgap.registry.advertiseAddress = "10.0.0.5:5000";
  assert.equal(airgapK0sURL(config), "http://10.0.0.5:5080/k0rdent-enterprise");
  config.airgap.registry.advertiseAddress = "[fd00::5]:5000";
  config.registry.filesPort = 8080;
  config.registry.prefix = "";
  assert.equal(airgapK0sURL(config), "http://[fd00::5]:8080");
  config.registry.filesPort = 0;
  assert.equal(airgapK0sURL(config), undefined);
  config.airgap.k0sURL = "https://files.lan/k0s";
  assert.equal(airgapK0sURL(config), "https://files.lan/k0s");
});

Deno.test("registry credentials: registryCredsSecret in the values, a username/password Secret", () => {
  const config = defaultConfig();
  config.k0rdent.version = "1.2.3";
  config.airgap.registry = {
    ...config.airgap.registry,
    address: "harbor.example.com",
    username: "robot$k0rdent",
    password: "s3cret-pw",
  };
  const options = helmValuesOptions(config, true);
  const values = helmValues(options);
  assert.equal(getPath(values, ["controller", "registryCredsSecret"]), REGISTRY_CREDS_SECRET);
  assert.ok(!renderHelmValues(options).includes("s3cret-pw"), "no password in the values");
  const docs = parseAllDocuments(
    registrySecretsManifest("kcm-system", {
      auth: { username: "robot$k0rdent", password: "s3cret-pw" },
    }),
  ).map((d) => d.toJS());
  assert.deepEqual(docs.map((d) => d.metadata.name), ["kcm-system", REGISTRY_CREDS_SECRET]);
  assert.deepEqual(docs[1].stringData, { username: "robot$k0rdent", password: "s3cret-pw" });
  assert.equal(docs[1].type, "Opaque");
});

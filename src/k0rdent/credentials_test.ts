import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { UserError } from "../errors.ts";
import { assertGolden } from "../../tests/helpers/golden.ts";
import { credentialNames, credentialObjects, PROVIDERS, renderCredentials } from "./credentials.ts";

type Credentials = Config["k0rdent"]["credentials"];

const SA_JSON = JSON.stringify({
  type: "service_account",
  project_id: "demo",
  private_key: "-----BEGIN PRIVATE KEY-----\nGCPKEYgcpkey\n-----END PRIVATE KEY-----\n",
  client_email: "k0rdent@demo.iam.gserviceaccount.com",
});

/** One credential per provider; every secret value is a unique marker. */
function sample(): Credentials {
  return {
    aws: [{
      name: "aws-main",
      region: "us-east-1",
      accessKeyID: "AKIASECRETAWSID",
      secretAccessKey: "awsSECRETaccessKEY",
      sessionToken: "awsSESSIONtoken",
    }],
    azure: [{
      name: "azure-main",
      subscriptionID: "sub-1234",
      tenantID: "tenant-5678",
      clientID: "client-9abc",
      clientSecret: "azureCLIENTsecret",
    }],
    vsphere: [{
      name: "vsphere-main",
      vcenter: "vcenter.example.com",
      datacenter: "DC1",
      username: "vsphereUSER@vsphere.local",
      password: "vspherePASSWORD",
    }],
    openstack: [{
      name: "openstack-main",
      authURL: "https://keystone.example.com:5000/v3",
      region: "RegionOne",
      applicationCredentialID: "osAPPcredID",
      applicationCredentialSecret: "osAPPcredSECRET",
    }],
    gcp: [{ name: "gcp-main", credentials: SA_JSON }],
  };
}

const SECRETS = [
  "AKIASECRETAWSID",
  "awsSECRETaccessKEY",
  "awsSESSIONtoken",
  "azureCLIENTsecret",
  "vsphereUSER@vsphere.local",
  "vspherePASSWORD",
  "osAPPcredID",
  "osAPPcredSECRET",
  "GCPKEYgcpkey",
];

function only(provider: (typeof PROVIDERS)[number]): Credentials {
  const all = sample();
  const empty: Credentials = { aws: [], azure: [], openstack: [], vsphere: [], gcp: [] };
  return { ...empty, [provider]: all[provider] } as Credentials;
}

// Parsed test objects are navigated freely; a wrong path fails the assertion anyway.
// deno-lint-ignore no-explicit-any
function docs(text: string): any[] {
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS();
  });
}

for (const provider of PROVIDERS) {
  Deno.test(`renderCredentials() ${provider}: matches its golden`, async () => {
    await assertGolden(
      import.meta.url,
      `credentials.${provider}.yaml.golden`,
      renderCredentials(only(provider), "kcm-system"),
    );
  });
}

Deno.test("credentialObjects() builds the documented objects per provider", () => {
  const kinds = (p: (typeof PROVIDERS)[number]) =>
    docs(renderCredentials(only(p), "kcm-system")).map((o) => `${o.kind}/${o.metadata.name}`);
  assert.deepEqual(kinds("aws"), [
    "Secret/aws-main-secret",
    "AWSClusterStaticIdentity/aws-main",
    "Credential/aws-main",
    "ConfigMap/aws-main-resource-template",
  ]);
  assert.deepEqual(kinds("azure"), [
    "Secret/azure-main-secret",
    "AzureClusterIdentity/azure-main",
    "Credential/azure-main",
    "ConfigMap/azure-main-resource-template",
  ]);
  assert.deepEqual(kinds("vsphere"), [
    "Secret/vsphere-main-secret",
    "VSphereClusterIdentity/vsphere-main",
    "Credential/vsphere-main",
    "ConfigMap/vsphere-main-resource-template",
  ]);
  assert.deepEqual(kinds("openstack"), [
    "Secret/openstack-main",
    "Credential/openstack-main",
    "ConfigMap/openstack-main-resource-template",
  ]);
  assert.deepEqual(kinds("gcp"), [
    "Secret/gcp-main",
    "Credential/gcp-main",
    "ConfigMap/gcp-main-resource-template",
  ]);
});

Deno.test("credentialObjects() wires identities, secrets and credentials together", () => {
  const objs = docs(renderCredentials(sample(), "kcm-system"));
  const get = (kind: string, name: string) =>
    objs.find((o) => o.kind === kind && o.metadata.name === name)!;
  for (const o of objs) {
    assert.equal(o.metadata.labels["k0rdent.mirantis.com/component"], "kcm", o.kind);
    if (o.kind === "ConfigMap") {
      assert.equal(o.metadata.annotations["projectsveltos.io/template"], "true");
    }
    if (o.kind === "Credential") {
      assert.equal(o.apiVersion, "k0rdent.mirantis.com/v1beta1");
      const ref = o.spec.identityRef;
      assert.ok(get(ref.kind, ref.name), `${o.metadata.name} -> ${ref.kind}/${ref.name}`);
      assert.ok(get("ConfigMap", `${ref.name}-resource-template`));
    }
  }
  const aws = get("AWSClusterStaticIdentity", "aws-main");
  assert.equal(aws.apiVersion, "infrastructure.cluster.x-k8s.io/v1beta2");
  assert.equal(aws.metadata.namespace, undefined); // cluster-scoped
  assert.deepEqual(aws.spec, { secretRef: "aws-main-secret", allowedNamespaces: {} });
  assert.deepEqual(get("Secret", "aws-main-secret").stringData, {
    AccessKeyID: "AKIASECRETAWSID",
    SecretAccessKey: "awsSECRETaccessKEY",
    SessionToken: "awsSESSIONtoken",
  });
  assert.equal(get("ConfigMap", "aws-main-resource-template").data, undefined);

  const azure = get("AzureClusterIdentity", "azure-main");
  assert.equal(azure.metadata.namespace, "kcm-system");
  assert.equal(azure.metadata.labels["clusterctl.cluster.x-k8s.io/move-hierarchy"], "true");
  assert.deepEqual(azure.spec, {
    type: "ServicePrincipal",
    clientID: "client-9abc",
    tenantID: "tenant-5678",
    clientSecret: { name: "azure-main-secret", namespace: "kcm-system" },
    allowedNamespaces: {},
  });
  assert.equal(get("Credential", "azure-main").spec.identityRef.namespace, "kcm-system");

  assert.deepEqual(get("VSphereClusterIdentity", "vsphere-main").spec, {
    secretName: "vsphere-main-secret",
    allowedNamespaces: { selector: { matchLabels: {} } },
  });
  assert.ok(
    get("ConfigMap", "vsphere-main-resource-template").data["configmap.yaml"].includes(
      'datacenters = "DC1"',
    ),
  );

  const clouds = parseYaml(get("Secret", "openstack-main").stringData["clouds.yaml"]);
  assert.deepEqual(clouds, {
    clouds: {
      openstack: {
        auth: {
          auth_url: "https://keystone.example.com:5000/v3",
          application_credential_id: "osAPPcredID",
          application_credential_secret: "osAPPcredSECRET",
        },
        region_name: "RegionOne",
        interface: "public",
        identity_api_version: 3,
        auth_type: "v3applicationcredential",
      },
    },
  });
  assert.equal(get("Secret", "gcp-main").stringData.credentials, SA_JSON);
  assert.deepEqual(get("Credential", "gcp-main").spec.identityRef, {
    apiVersion: "v1",
    kind: "Secret",
    name: "gcp-main",
    namespace: "kcm-system",
  });
});

Deno.test("credentialObjects() OpenStack with a password uses project and domains", () => {
  const creds = only("openstack");
  creds.openstack = [{
    name: "os-pw",
    authURL: "https://keystone.example.com/v3",
    username: "demo",
    password: "osPASSWORD",
    projectName: "demo-project",
  }];
  const [secret] = credentialObjects(creds, "kcm-system");
  const clouds = parseYaml((secret.stringData as Record<string, string>)["clouds.yaml"]);
  assert.deepEqual(clouds.clouds.openstack.auth, {
    auth_url: "https://keystone.example.com/v3",
    username: "demo",
    password: "osPASSWORD",
    project_name: "demo-project",
    project_domain_name: "Default",
    user_domain_name: "Default",
  });
  assert.equal(clouds.clouds.openstack.auth_type, "password");
  assert.equal(clouds.clouds.openstack.region_name, undefined);
});

Deno.test("renderCredentials() keeps every secret inside Secret objects", () => {
  const text = renderCredentials(sample(), "kcm-system");
  for (const s of SECRETS) assert.ok(text.includes(s), `${s} missing`);
  for (const o of docs(text)) {
    if (o.kind === "Secret") continue;
    const body = stringify(o);
    for (const s of SECRETS) assert.ok(!body.includes(s), `${s} leaked into ${o.kind}`);
  }
  for (const name of credentialNames(sample())) {
    for (const s of SECRETS) assert.ok(!name.includes(s));
  }
});

Deno.test("renderCredentials() is empty without credentials and honours the namespace", () => {
  assert.equal(renderCredentials(defaultConfig().k0rdent.credentials, "kcm-system"), "");
  const objs = docs(renderCredentials(sample(), "k0rdent"));
  for (const o of objs) {
    if (o.metadata.namespace !== undefined) assert.equal(o.metadata.namespace, "k0rdent");
  }
});

Deno.test("credentialObjects() rejects bad and duplicate names without echoing secrets", () => {
  const bad = only("aws");
  bad.aws[0].name = "Bad_Name";
  assert.throws(
    () => credentialObjects(bad, "kcm-system"),
    (err: Error) =>
      err instanceof UserError && err.message.includes('"Bad_Name"') &&
      !SECRETS.some((s) => err.message.includes(s)),
  );
  const dup = sample();
  dup.gcp[0].name = "aws-main";
  assert.throws(
    () => credentialObjects(dup, "kcm-system"),
    (err: Error) => err instanceof UserError && err.message.includes("Duplicate credential name"),
  );
});

/**
 * The Kubernetes objects of k0rdent provider credentials (AWS, Azure, vSphere, OpenStack,
 * GCP), as one multi-document YAML to pipe into `k0s kubectl apply --server-side -f -` (secrets
 * travel on stdin, never on argv). Pure: builds text, applies nothing.
 *
 * Per credential `<name>` (all in the k0rdent namespace, label
 * `k0rdent.mirantis.com/component: kcm`):
 * - AWS: Secret `<name>-secret` -> cluster-scoped `AWSClusterStaticIdentity` `<name>` ->
 *   Credential `<name>`; ConfigMap `<name>-resource-template` (no data).
 * - Azure: Secret `<name>-secret` -> namespaced `AzureClusterIdentity` `<name>` -> Credential.
 * - vSphere: Secret `<name>-secret` -> cluster-scoped `VSphereClusterIdentity` `<name>` ->
 *   Credential (identityRef with the namespace, as in the k0rdent docs).
 * - OpenStack: Secret `<name>` with `clouds.yaml` (cloud `openstack`) -> Credential (identityRef
 *   `v1/Secret`).
 * - GCP: Secret `<name>` with `credentials` (service-account JSON) -> Credential.
 * The resource-template ConfigMap is always `<identity name>-resource-template`, annotated
 * `projectsveltos.io/template: "true"`; its Sveltos templates are the ones of the k0rdent docs
 * (OpenStack: username/password/project are read from `auth`, where clouds.yaml keeps them).
 * Secret values appear only in Secret objects.
 */
import { stringify } from "yaml";
import type { Config } from "../config/schema.ts";
import { UserError } from "../errors.ts";

type Credentials = Config["k0rdent"]["credentials"];
type K8sObject = Record<string, unknown>;

/** Provider keys of `k0rdent.credentials`, in output order. */
export const PROVIDERS = ["aws", "azure", "vsphere", "openstack", "gcp"] as const;

const CREDENTIAL_API = "k0rdent.mirantis.com/v1beta1";
const CAPI_INFRA = "infrastructure.cluster.x-k8s.io";
const COMPONENT = { "k0rdent.mirantis.com/component": "kcm" };
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** All objects for the configured credentials, in apply order (each Secret before its users). */
export function credentialObjects(credentials: Credentials, namespace: string): K8sObject[] {
  checkNames(credentials);
  const out: K8sObject[] = [];
  const ns = namespace;
  for (const c of credentials.aws) {
    out.push(
      secret(`${c.name}-secret`, ns, {
        AccessKeyID: c.accessKeyID,
        SecretAccessKey: c.secretAccessKey,
        ...(c.sessionToken ? { SessionToken: c.sessionToken } : {}),
      }),
      {
        apiVersion: `${CAPI_INFRA}/v1beta2`,
        kind: "AWSClusterStaticIdentity",
        metadata: { name: c.name, labels: COMPONENT },
        spec: { secretRef: `${c.name}-secret`, allowedNamespaces: {} },
      },
      credential(c.name, ns, c.description ?? "AWS credentials", {
        apiVersion: `${CAPI_INFRA}/v1beta2`,
        kind: "AWSClusterStaticIdentity",
        name: c.name,
      }),
      resourceTemplate(c.name, ns),
    );
  }
  for (const c of credentials.azure) {
    out.push(
      secret(`${c.name}-secret`, ns, { clientSecret: c.clientSecret }),
      {
        apiVersion: `${CAPI_INFRA}/v1beta1`,
        kind: "AzureClusterIdentity",
        metadata: {
          name: c.name,
          namespace: ns,
          labels: { "clusterctl.cluster.x-k8s.io/move-hierarchy": "true", ...COMPONENT },
        },
        spec: {
          type: "ServicePrincipal",
          clientID: c.clientID,
          tenantID: c.tenantID,
          clientSecret: { name: `${c.name}-secret`, namespace: ns },
          allowedNamespaces: {},
        },
      },
      credential(
        c.name,
        ns,
        c.description ?? `Azure credentials (subscription ${c.subscriptionID})`,
        {
          apiVersion: `${CAPI_INFRA}/v1beta1`,
          kind: "AzureClusterIdentity",
          name: c.name,
          namespace: ns,
        },
      ),
      resourceTemplate(c.name, ns, AZURE_TEMPLATE),
    );
  }
  for (const c of credentials.vsphere) {
    out.push(
      secret(`${c.name}-secret`, ns, { username: c.username, password: c.password }),
      {
        apiVersion: `${CAPI_INFRA}/v1beta1`,
        kind: "VSphereClusterIdentity",
        metadata: { name: c.name, labels: COMPONENT },
        spec: {
          secretName: `${c.name}-secret`,
          allowedNamespaces: { selector: { matchLabels: {} } },
        },
      },
      credential(c.name, ns, c.description ?? `vSphere credentials (${c.vcenter})`, {
        apiVersion: `${CAPI_INFRA}/v1beta1`,
        kind: "VSphereClusterIdentity",
        name: c.name,
        namespace: ns,
      }),
      resourceTemplate(c.name, ns, vsphereTemplate(c.datacenter)),
    );
  }
  for (const c of credentials.openstack) {
    out.push(
      secret(c.name, ns, { "clouds.yaml": cloudsYaml(c) }),
      credential(c.name, ns, c.description ?? "OpenStack credentials", {
        apiVersion: "v1",
        kind: "Secret",
        name: c.name,
        namespace: ns,
      }),
      resourceTemplate(c.name, ns, OPENSTACK_TEMPLATE),
    );
  }
  for (const c of credentials.gcp) {
    out.push(
      secret(c.name, ns, { credentials: c.credentials }),
      credential(c.name, ns, c.description ?? "GCP credentials", {
        apiVersion: "v1",
        kind: "Secret",
        name: c.name,
        namespace: ns,
      }),
      resourceTemplate(c.name, ns, GCP_TEMPLATE),
    );
  }
  return out;
}

/** The objects as multi-document YAML for `kubectl apply --server-side -f -`; "" when none. */
export function renderCredentials(credentials: Credentials, namespace: string): string {
  return credentialObjects(credentials, namespace)
    .map((o) => stringify(o, { lineWidth: 0 }))
    .join("---\n");
}

/** The names of the `Credential` objects that the configuration defines. */
export function credentialNames(credentials: Credentials): string[] {
  return PROVIDERS.flatMap((p) => credentials[p].map((c) => c.name));
}

function checkNames(credentials: Credentials): void {
  const seen = new Map<string, string>();
  for (const provider of PROVIDERS) {
    for (const { name } of credentials[provider]) {
      if (!NAME.test(name) || name.length > 200) {
        throw new UserError(
          `Invalid credential name "${name}" in k0rdent.credentials.${provider}: expected lowercase letters, digits and "-"`,
        );
      }
      const other = seen.get(name);
      if (other) {
        throw new UserError(
          `Duplicate credential name "${name}" in k0rdent.credentials.${other} and .${provider}: Credential names must be unique`,
        );
      }
      seen.set(name, provider);
    }
  }
}

function secret(name: string, namespace: string, stringData: Record<string, string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: COMPONENT },
    type: "Opaque",
    stringData,
  };
}

function credential(
  name: string,
  namespace: string,
  description: string,
  identityRef: Record<string, string>,
): K8sObject {
  return {
    apiVersion: CREDENTIAL_API,
    kind: "Credential",
    metadata: { name, namespace, labels: COMPONENT },
    spec: { description, identityRef },
  };
}

function resourceTemplate(identity: string, namespace: string, template?: string): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `${identity}-resource-template`,
      namespace,
      labels: COMPONENT,
      annotations: { "projectsveltos.io/template": "true" },
    },
    ...(template ? { data: { "configmap.yaml": template } } : {}),
  };
}

function cloudsYaml(c: Credentials["openstack"][number]): string {
  const appCred = Boolean(c.applicationCredentialID && c.applicationCredentialSecret);
  const auth: Record<string, string> = { auth_url: c.authURL };
  if (appCred) {
    auth.application_credential_id = c.applicationCredentialID!;
    auth.application_credential_secret = c.applicationCredentialSecret!;
  } else {
    auth.username = c.username!;
    auth.password = c.password!;
    auth.project_name = c.projectName!;
    auth.project_domain_name = c.projectDomainName ?? "Default";
    auth.user_domain_name = c.userDomainName ?? "Default";
  }
  const cloud: Record<string, unknown> = { auth };
  if (c.region) cloud.region_name = c.region;
  cloud.interface = c.interface ?? "public";
  cloud.identity_api_version = 3;
  cloud.auth_type = appCred ? "v3applicationcredential" : "password";
  return stringify({ clouds: { openstack: cloud } }, { lineWidth: 0 });
}

const AZURE_TEMPLATE = `{{- $cluster := .InfrastructureProvider -}}
{{- $identity := (getResource "InfrastructureProviderIdentity") -}}
{{- $secret := (getResource "InfrastructureProviderIdentitySecret") -}}
{{- $subnetName := "" -}}
{{- $securityGroupName := "" -}}
{{- $routeTableName := "" -}}
{{- range $cluster.spec.networkSpec.subnets -}}
  {{- if eq .role "node" -}}
    {{- $subnetName = .name -}}
    {{- $securityGroupName = .securityGroup.name -}}
    {{- $routeTableName = .routeTable.name -}}
    {{- break -}}
  {{- end -}}
{{- end -}}
{{- $cloudConfig := dict
  "aadClientId" $identity.spec.clientID
  "aadClientSecret" (index $secret.data "clientSecret" | b64dec)
  "cloud" $cluster.spec.azureEnvironment
  "loadBalancerName" ""
  "loadBalancerSku" "Standard"
  "location" $cluster.spec.location
  "maximumLoadBalancerRuleCount" 250
  "resourceGroup" $cluster.spec.resourceGroup
  "routeTableName" $routeTableName
  "securityGroupName" $securityGroupName
  "securityGroupResourceGroup" $cluster.spec.networkSpec.vnet.resourceGroup
  "subnetName" $subnetName
  "subscriptionId" $cluster.spec.subscriptionID
  "tenantId" $identity.spec.tenantID
  "useInstanceMetadata" true
  "useManagedIdentityExtension" false
  "vmType" "vmss"
  "vnetName" $cluster.spec.networkSpec.vnet.name
  "vnetResourceGroup" $cluster.spec.networkSpec.vnet.resourceGroup
-}}
---
apiVersion: v1
kind: Secret
metadata:
  name: azure-cloud-provider
  namespace: kube-system
type: Opaque
data:
  cloud-config: {{ $cloudConfig | toJson | b64enc }}
`;

/** The docs' vSphere template, with the datacenter (if configured) filled in. */
function vsphereTemplate(datacenter: string | undefined): string {
  const dc = datacenter ? JSON.stringify(datacenter) : undefined;
  return `{{- $cluster := .InfrastructureProvider -}}
{{- $identity := (getResource "InfrastructureProviderIdentity") -}}
{{- $secret := (getResource "InfrastructureProviderIdentitySecret") -}}
---
apiVersion: v1
kind: Secret
metadata:
  name: vsphere-cloud-secret
  namespace: kube-system
type: Opaque
data:
  {{ printf "%s.username" $cluster.spec.server }}: {{ index $secret.data "username" }}
  {{ printf "%s.password" $cluster.spec.server }}: {{ index $secret.data "password" }}
---
apiVersion: v1
kind: Secret
metadata:
  name: vcenter-config-secret
  namespace: kube-system
type: Opaque
stringData:
  csi-vsphere.conf: |
    [Global]
    cluster-id = "{{ $cluster.metadata.name }}"

    [VirtualCenter "{{ $cluster.spec.server }}"]
    insecure-flag = "true"
    user = "{{ index $secret.data "username" | b64dec }}"
    password = "{{ index $secret.data "password" | b64dec }}"
    port = "443"
${dc ? `    datacenters = ${dc}\n` : ""}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cloud-config
  namespace: kube-system
data:
  vsphere.conf: |
    global:
      insecureFlag: true
      port: 443
      secretName: vsphere-cloud-secret
      secretNamespace: kube-system
    labels:
      region: k8s-region
      zone: k8s-zone
    vcenter:
      {{ $cluster.spec.server }}:
${dc ? `        datacenters:\n          - ${dc}\n` : ""}        server: {{ $cluster.spec.server }}
`;
}

const OPENSTACK_TEMPLATE = `{{- $cluster := .InfrastructureProvider -}}
{{- $identity := (getResource "InfrastructureProviderIdentity") -}}

{{- $clouds := fromYaml (index $identity "data" "clouds.yaml" | b64dec) -}}
{{- if not $clouds }}
  {{ fail "failed to decode clouds.yaml" }}
{{ end -}}

{{- $openstack := index $clouds "clouds" "openstack" -}}

{{- if not (hasKey $openstack "auth") }}
  {{ fail "auth key not found in openstack config" }}
{{- end }}
{{- $auth := index $openstack "auth" -}}

{{- $auth_url := index $auth "auth_url" -}}
{{- $app_cred_id := index $auth "application_credential_id" -}}
{{- $app_cred_name := index $auth "application_credential_name" -}}
{{- $app_cred_secret := index $auth "application_credential_secret" -}}

{{- $network_id := $cluster.status.externalNetwork.id -}}
{{- $network_name := $cluster.status.externalNetwork.name -}}

{{- $verify := index $openstack "verify" -}}
{{- $ca_cert := index $identity "data" "cacert" -}}
---
apiVersion: v1
kind: Secret
metadata:
  name: openstack-cloud-config
  namespace: kube-system
type: Opaque
stringData:
  cloud.conf: |
    [Global]
    auth-url="{{ $auth_url }}"

    {{- if $app_cred_id }}
    application-credential-id="{{ $app_cred_id }}"
    {{- end }}

    {{- if $app_cred_name }}
    application-credential-name="{{ $app_cred_name }}"
    {{- end }}

    {{- if $app_cred_secret }}
    application-credential-secret="{{ $app_cred_secret }}"
    {{- end }}

    {{- if and (not $app_cred_id) (not $app_cred_secret) }}
    username="{{ index $auth "username" }}"
    password="{{ index $auth "password" }}"
    tenant-name="{{ index $auth "project_name" }}"
    tenant-domain-name="{{ index $auth "project_domain_name" }}"
    user-domain-name="{{ index $auth "user_domain_name" }}"
    {{- end }}
    region="{{ index $openstack "region_name" }}"

    {{- if or (eq $verify false) (eq (lower (printf "%v" $verify)) "false") }}
    tls-insecure=true
    {{- end }}

    {{- if $ca_cert }}
    ca-file=/etc/cacert/ca.crt
    {{- end }}

    [LoadBalancer]
    {{- if $network_id }}
    floating-network-id="{{ $network_id }}"
    {{- end }}

    [Networking]
    {{- if $network_name }}
    public-network-name="{{ $network_name }}"
    {{- end }}
{{- if $ca_cert }}
---
apiVersion: v1
kind: Secret
metadata:
  name: openstack-ca-cert
  namespace: kube-system
type: Opaque
data:
  ca.crt: "{{ $ca_cert }}"
{{- end }}
`;

const GCP_TEMPLATE = `{{- $secret := (getResource "InfrastructureProviderIdentity") -}}
---
apiVersion: v1
kind: Secret
metadata:
  name: gcp-cloud-sa
  namespace: kube-system
type: Opaque
data:
  cloud-sa.json: {{ index $secret "data" "credentials" }}
`;

/**
 * Helm values for the k0rdent (kcm) chart, online and air-gapped. Pure: returns objects and
 * text, writes nothing (the caller writes the values file with mode 0600).
 *
 * Air gap (Enterprise docs, "airgap install"): every image and the templates repository point
 * at `<registry>/<prefix>`: `controller.templatesRepoURL`, `controller.globalRegistry`,
 * `image.repository`, the cert-manager images (`jetstack/cert-manager-*`), the flux2 images
 * (`fluxcd/*`), the cluster-api-operator manager (`capi-operator/cluster-api-operator`),
 * velero (`velero/velero`) and the UI (`k0rdent-ui`). Tags stay the chart's defaults.
 *
 * Layout by version ({@link usesRegionalValues}): the kcm chart moved its cert-manager,
 * cluster-api-operator and velero subcharts under a `regional:` subchart in kcm 1.4.0
 * (the open-source chart 1.3.x still has them at the top level). Enterprise 1.1.0's docs
 * put them at the top level, while the newer Enterprise docs use `regional.` (as did the values
 * k0rdentd 0.3 set for Enterprise 1.2.2); so Enterprise 1.2.0 and later get `regional.`
 * (inferred: the exact first Enterprise release with the split is not documented).
 *
 * Plain-HTTP registry: `controller.insecureRegistry: true`. HTTPS with a private CA:
 * `controller.registryCertSecret: <Secret with ca.crt>` (see {@link registryCaSecretManifest}).
 * The user's `k0rdent.helm.values` are merged last and win.
 */
import { stringify } from "yaml";
import type { Config } from "../config/schema.ts";
import { deepMerge, setPath } from "../config/merge.ts";
import {
  clusterEndpoint,
  type RegistryEndpoint,
  registryEndpoint,
  repositoryBase,
} from "../airgap_registry/endpoint.ts";
import { airgapChartRef } from "./helm_command.ts";
import { splitHostPort } from "../join/node_address.ts";
import { k0sFilesURL } from "../registry/k0s_files.ts";

/** The helm release name kcm looks for before 1.9 (`kcmv1.CoreKCMName`). */
export const KCM_RELEASE_NAME = "kcm";

/** Name of the Secret holding the registry's CA (`ca.crt`) for `controller.registryCertSecret`. */
export const REGISTRY_CA_SECRET = "k0rdentd-registry-ca";
/**
 * Name of the Secret holding the registry's pull credentials for `controller.registryCredsSecret`:
 * keys `username` and `password`. kcm names it as `secretRef` of its Flux HelmRepository
 * (`internal/helm/repo.go`), and source-controller takes these keys as Basic auth from a Secret
 * not of type dockerconfigjson (fluxcd/source-controller v1.6.0
 * `internal/helm/registry/auth.go` `LoginOptionFromSecret`); kcm 1.11 also reads exactly these
 * keys for child clusters (k0rdent/kcm v1.11.0 `internal/controller/management_controller.go`).
 */
export const REGISTRY_CREDS_SECRET = "k0rdentd-registry-creds";

/** Air-gap inputs of the values. */
export interface AirgapValuesOptions {
  registry: RegistryEndpoint;
  /** Name of a Secret with `ca.crt` (HTTPS with a private CA); undefined otherwise. */
  caSecretName?: string;
  /** Name of a Secret with `username` and `password` (a registry that needs them). */
  credsSecretName?: string;
  /** `controller.globalK0sURL`: an HTTP URL serving k0s binaries to child clusters, if any. */
  k0sURL?: string;
}

/** Everything the values depend on. */
export interface HelmValuesOptions {
  /** The chart reference; its name and `version` pick the values layout. */
  chart: string;
  version: string;
  /** Air-gap settings; undefined online. */
  airgap?: AirgapValuesOptions;
  /** `k0rdent.helm.values`, merged last. */
  userValues: Record<string, unknown>;
}

/**
 * The options for a configuration. Air gap: the chart is the one in the local registry,
 * `caSecretName` is set when the registry is HTTPS with a CA file, and `k0sURL` is
 * {@link airgapK0sURL}.
 */
export function helmValuesOptions(config: Config, airgap: boolean): HelmValuesOptions {
  const base = { version: config.k0rdent.version, userValues: config.k0rdent.helm.values };
  if (!airgap) return { ...base, chart: config.k0rdent.helm.chart };
  const registry = clusterEndpoint(config);
  const withCa = !registry.insecure && config.airgap.registry.caFile !== "";
  return {
    ...base,
    // helm runs on this host: it pulls the chart at the address this host uses.
    chart: airgapChartRef(registryEndpoint(config)),
    airgap: {
      registry,
      ...(withCa ? { caSecretName: REGISTRY_CA_SECRET } : {}),
      ...(config.airgap.registry.username ? { credsSecretName: REGISTRY_CREDS_SECRET } : {}),
      ...(airgapK0sURL(config) ? { k0sURL: airgapK0sURL(config) } : {}),
    },
  };
}

/**
 * Where child clusters download k0s (`controller.globalK0sURL`): `airgap.k0sURL` when set, else
 * the registry daemon's files listener (`registry.filesPort`, `registry.prefix`) on the host of
 * the cluster's registry address; undefined when that listener is off (port 0).
 */
export function airgapK0sURL(config: Config): string | undefined {
  if (config.airgap.k0sURL) return config.airgap.k0sURL;
  if (config.registry.filesPort === 0) return undefined;
  const { host } = splitHostPort(clusterEndpoint(config).address);
  return k0sFilesURL(
    host.replace(/^\[|\]$/g, ""),
    config.registry.filesPort,
    config.registry.prefix,
  );
}

/**
 * True when the chart keeps cert-manager, cluster-api-operator and velero under `regional:`:
 * Enterprise (`.../k0rdent-enterprise`) from 1.2.0, open-source kcm from 1.4.0.
 */
export function usesRegionalValues(chart: string, version: string): boolean {
  return isEnterpriseChart(chart) ? atLeast(version, [1, 2]) : atLeast(version, [1, 4]);
}

function isEnterpriseChart(chart: string): boolean {
  return chart.replace(/\/+$/, "").split("/").at(-1) === "k0rdent-enterprise";
}

/** `version` is `threshold` (major, minor) or later; an unparseable version counts as later. */
function atLeast(version: string, threshold: [number, number]): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version);
  if (!m) return true; // Unparseable: assume the current layout.
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > threshold[0] || (major === threshold[0] && minor >= threshold[1]);
}

/**
 * Why the chart cannot be installed as helm release `releaseName`, or null. kcm copies the helm
 * values into the `Management` it creates from the release it looks up by name, and reconciles
 * its own Flux HelmRelease of that name: `kcm` up to kcm 1.8 (k0rdent/kcm v1.8.0
 * internal/controller/release_controller.go `actionConfig.Releases.Last("kcm")`), the chart's
 * release name from kcm 1.9.0 (`HELM_RELEASE_NAME`, internal/config/config.go). Under another
 * name an older kcm drops the values (the air-gap registry among them) and installs a second
 * release `kcm`. Which kcm an Enterprise version carries is not documented, so Enterprise keeps
 * `kcm`.
 */
export function releaseNameProblem(
  chart: string,
  version: string,
  releaseName: string,
): string | null {
  if (releaseName === KCM_RELEASE_NAME) return null;
  if (!isEnterpriseChart(chart) && atLeast(version, [1, 9])) return null;
  return `k0rdent.helm.releaseName "${releaseName}": kcm before 1.9 only takes its values from the helm release "${KCM_RELEASE_NAME}", and k0rdentd keeps "${KCM_RELEASE_NAME}" for k0rdent Enterprise (chart ${chart} ${version}); use "${KCM_RELEASE_NAME}"`;
}

/** The values object: generated values with the user's merged over them. */
export function helmValues(options: HelmValuesOptions): Record<string, unknown> {
  const generated = options.airgap ? airgapValues(options, options.airgap) : {};
  return deepMerge(generated, options.userValues);
}

/** The values file text (YAML). */
export function renderHelmValues(options: HelmValuesOptions): string {
  return "# Generated by k0rdentd; k0rdent.helm.values in its configuration win.\n" +
    stringify(helmValues(options), { lineWidth: 0 });
}

function airgapValues(
  options: HelmValuesOptions,
  airgap: AirgapValuesOptions,
): Record<string, unknown> {
  const repo = repositoryBase(airgap.registry);
  const v: Record<string, unknown> = {};
  const set = (path: string, value: unknown) => setPath(v, path.split("."), value);

  set("controller.templatesRepoURL", `oci://${repo}/charts`);
  set("controller.globalRegistry", repo);
  if (airgap.k0sURL) set("controller.globalK0sURL", airgap.k0sURL);
  if (airgap.registry.insecure) set("controller.insecureRegistry", true);
  if (!airgap.registry.insecure && airgap.caSecretName) {
    set("controller.registryCertSecret", airgap.caSecretName);
  }
  if (airgap.credsSecretName) set("controller.registryCredsSecret", airgap.credsSecretName);
  set("image.repository", `${repo}/kcm-controller`);

  const sub = usesRegionalValues(options.chart, options.version) ? "regional." : "";
  set(`${sub}cert-manager.image.repository`, `${repo}/jetstack/cert-manager-controller`);
  for (const part of ["webhook", "cainjector", "startupapicheck"]) {
    set(`${sub}cert-manager.${part}.image.repository`, `${repo}/jetstack/cert-manager-${part}`);
  }
  set("flux2.helmController.image", `${repo}/fluxcd/helm-controller`);
  set("flux2.sourceController.image", `${repo}/fluxcd/source-controller`);
  set("flux2.cli.image", `${repo}/fluxcd/flux-cli`);
  set(
    `${sub}cluster-api-operator.image.manager.repository`,
    `${repo}/capi-operator/cluster-api-operator`,
  );
  set(`${sub}velero.image.repository`, `${repo}/velero/velero`);
  set("k0rdent-ui.image.repository", `${repo}/k0rdent-ui`);
  return v;
}

/** What the registry Secrets hold. */
export interface RegistrySecrets {
  /** The CA (`ca.crt` of {@link REGISTRY_CA_SECRET}). */
  caPem?: string;
  /** Pull credentials ({@link REGISTRY_CREDS_SECRET}). */
  auth?: { username: string; password: string };
}

/**
 * The Namespace and the Secrets that `controller.registryCertSecret` (`ca.crt`) and
 * `controller.registryCredsSecret` (`username`, `password`) name, as YAML for
 * `kubectl apply --server-side -f -` (on stdin: the credentials never reach argv); applied
 * before helm, which would create the namespace too late and whose kcm checks that both exist.
 */
export function registrySecretsManifest(namespace: string, secrets: RegistrySecrets): string {
  const namespaceDoc = { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } };
  const secret = (name: string, stringData: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: { "app.kubernetes.io/managed-by": "k0rdentd" } },
    type: "Opaque",
    stringData,
  });
  const docs: unknown[] = [namespaceDoc];
  if (secrets.caPem) docs.push(secret(REGISTRY_CA_SECRET, { "ca.crt": secrets.caPem }));
  if (secrets.auth) docs.push(secret(REGISTRY_CREDS_SECRET, secrets.auth));
  return docs.map((d) => stringify(d, { lineWidth: 0 })).join("---\n");
}

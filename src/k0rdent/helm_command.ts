/**
 * The helm command line that installs or upgrades k0rdent, and the chart reference in the
 * local registry. Pure: builds argv, runs nothing (`HelmCli.change` runs it).
 */
import { type RegistryEndpoint, repositoryBase } from "../airgap_registry/endpoint.ts";

/** The Enterprise chart as pushed from the bundle: `oci://<registry>/<prefix>/charts/k0rdent-enterprise`. */
export function airgapChartRef(registry: RegistryEndpoint): string {
  return `oci://${repositoryBase(registry)}/charts/k0rdent-enterprise`;
}

/** The repository of {@link airgapChartRef} in the registry: `<prefix>/charts/k0rdent-enterprise`. */
export function airgapChartRepository(registry: RegistryEndpoint): string {
  return airgapChartRef(registry).slice(`oci://${registry.address}/`.length);
}

/** What `helm upgrade --install` needs. */
export interface HelmInstallOptions {
  releaseName: string;
  chart: string;
  version: string;
  namespace: string;
  /** Path of the values file (mode 0600: it may hold user secrets). */
  valuesFile: string;
  /** The chart registry speaks plain HTTP (`--plain-http`, Helm >= 3.13). */
  plainHttp?: boolean;
  /** CA file that signed the chart registry's certificate (`--ca-file`). */
  caFile?: string;
  /** Kubeconfig to use (`--kubeconfig`), e.g. k0s's admin.conf. */
  kubeconfig?: string;
  /** A registry config with the chart registry's credentials (`--registry-config`). */
  registryConfig?: string;
}

/**
 * `upgrade --install <release> <chart> --version <V> -n <ns> --create-namespace -f <values>`
 * plus `--plain-http` or `--ca-file`, without the helm program itself. Values travel in the
 * file, never on argv.
 */
export function helmUpgradeInstallArgs(options: HelmInstallOptions): string[] {
  const args = [
    "upgrade",
    "--install",
    options.releaseName,
    options.chart,
    "--version",
    options.version,
    "-n",
    options.namespace,
    "--create-namespace",
    "-f",
    options.valuesFile,
  ];
  if (options.plainHttp) args.push("--plain-http");
  if (options.caFile) args.push("--ca-file", options.caFile);
  if (options.kubeconfig) args.push("--kubeconfig", options.kubeconfig);
  if (options.registryConfig) args.push("--registry-config", options.registryConfig);
  return args;
}

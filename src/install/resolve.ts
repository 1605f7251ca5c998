/**
 * Resolves what the configuration leaves open before an install reads it: the registry as the
 * cluster sees it and its CA (air gap or mirror: `airgap_registry/resolve.ts`), and the
 * k0rdent chart version: as configured; online the default; air-gapped the bundle's
 * (`airgap.bundlePath`) or else the highest version of the chart in the registry.
 */
import semver from "semver";
import {
  clusterEndpoint,
  endpointAddresses,
  registryEndpoint,
} from "../airgap_registry/endpoint.ts";
import { airgapK0sURL } from "../k0rdent/helm_values.ts";
import { resolveRegistry } from "../airgap_registry/resolve.ts";
import { bundleK0rdentVersionWithProgress } from "../bundle/reading/k0rdent_version.ts";
import { DEFAULT_K0RDENT_VERSION } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import { airgapChartRepository } from "../k0rdent/helm_command.ts";
import type { OutputFormat } from "../log/output.ts";
import { preferReachableRegistry } from "./reachable_registry.ts";
import { registryTags } from "./registry_probe.ts";

/** Where the k0rdent version came from. */
export type K0rdentVersionSource = "config" | "default" | "bundle" | "registry";

/** The resolved configuration and what was decided. */
export interface InstallResolution {
  config: Config;
  k0rdentVersionSource: K0rdentVersionSource;
  /** One line per decision, logged and shown in the plan. */
  notes: string[];
  warnings: string[];
}

/** What the resolution depends on besides the configuration. */
export interface ResolveInstallOptions {
  airgap: boolean;
  /** The local registry stands in for upstream (air gap or `--registry-mirror`). */
  mirror: boolean;
  output: OutputFormat;
  signal?: AbortSignal;
  /** This host's routable IPv4; default: from its interfaces. */
  nodeAddress?: () => string | undefined;
}

/** What an air-gap install would use, resolved from a configuration (`config validate --airgap`). */
export interface AirgapSummary {
  /** The registry as this host reaches it. */
  registry: string;
  /** The registry as pods and other nodes reach it. */
  advertised: string;
  /** The CA file trusted for it; "" for the system roots or plain HTTP. */
  caFile: string;
  insecure: boolean;
  k0rdentVersion: string;
  k0rdentVersionSource: K0rdentVersionSource;
  /** `controller.globalK0sURL`, or null when none is set. */
  k0sURL: string | null;
  notes: string[];
  warnings: string[];
}

/** Resolves `config` as `install --airgap` would, without touching the host. */
export async function airgapSummary(
  config: Config,
  options: Pick<ResolveInstallOptions, "output" | "signal" | "nodeAddress">,
): Promise<AirgapSummary> {
  const resolved = await resolveInstall(config, { ...options, airgap: true, mirror: true });
  const registry = resolved.config.airgap.registry;
  return {
    registry: registry.address.replaceAll(",", ", "),
    advertised: endpointAddresses(clusterEndpoint(resolved.config)).join(", "),
    caFile: registry.caFile,
    insecure: registry.insecure,
    k0rdentVersion: resolved.config.k0rdent.version,
    k0rdentVersionSource: resolved.k0rdentVersionSource,
    k0sURL: airgapK0sURL(resolved.config) ?? null,
    notes: resolved.notes,
    warnings: resolved.warnings,
  };
}

/** The summary as text lines. */
export function formatAirgapSummary(s: AirgapSummary): string[] {
  return [
    `Air gap: registry ${s.registry} from this host, ${s.advertised} from pods and other nodes, ${
      s.insecure ? "plain HTTP" : `HTTPS trusting ${s.caFile || "the system roots"}`
    }`,
    `  k0rdent ${s.k0rdentVersion} (${s.k0rdentVersionSource})`,
    `  child clusters download k0s from ${s.k0sURL ?? "(not set: registry.filesPort is 0)"}`,
    ...s.warnings.map((w) => `  Warning: ${w}`),
  ];
}

/** Resolves the registry (when used) and the k0rdent version. */
export async function resolveInstall(
  config: Config,
  options: ResolveInstallOptions,
): Promise<InstallResolution> {
  const registry = options.mirror
    ? await resolveRegistry(config, { nodeAddress: options.nodeAddress })
    : { config, notes: [], warnings: [] };
  const resolved = registry.config;
  const reordered = options.airgap && options.mirror
    ? await preferReachableRegistry(resolved)
    : undefined;
  if (reordered) registry.notes.push(reordered);
  const version = await resolveK0rdentVersion(resolved, options);
  resolved.k0rdent.version = version.version;
  return {
    config: resolved,
    k0rdentVersionSource: version.source,
    notes: [...registry.notes, ...(version.note ? [version.note] : [])],
    warnings: registry.warnings,
  };
}

async function resolveK0rdentVersion(
  config: Config,
  options: ResolveInstallOptions,
): Promise<{ version: string; source: K0rdentVersionSource; note?: string }> {
  const configured = config.k0rdent.version;
  if (configured) return { version: configured, source: "config" };
  if (!options.airgap) {
    return {
      version: DEFAULT_K0RDENT_VERSION,
      source: "default",
      note: `k0rdent ${DEFAULT_K0RDENT_VERSION} (the default; set --k0rdent-version to choose)`,
    };
  }
  const bundle = config.airgap.bundlePath;
  if (bundle) {
    const found = await bundleK0rdentVersionWithProgress(bundle, options);
    if (!found.tag) {
      throw new UserError(
        `Cannot pick the k0rdent version: bundle "${bundle}" holds no k0rdent chart (charts/k0rdent-enterprise_<version>.tar); set --k0rdent-version`,
      );
    }
    const version = found.tag.replaceAll("_", "+");
    return { version, source: "bundle", note: `k0rdent ${version} from bundle "${bundle}"` };
  }
  const endpoint = registryEndpoint(config);
  const repository = airgapChartRepository(endpoint);
  let tags: string[];
  try {
    tags = await registryTags(config, repository);
  } catch (err) {
    throw new UserError(
      `Cannot pick the k0rdent version from the registry ${endpoint.address}: ${
        errorMessage(err)
      } (start it with "k0rdentd registry", or set --k0rdent-version or --airgap-bundle-path)`,
    );
  }
  const version = highestVersion(tags);
  if (!version) {
    throw new UserError(
      `Cannot pick the k0rdent version: the registry ${endpoint.address} holds no version of chart "${repository}" (load the bundle with "k0rdentd registry --bundle-path", or set --k0rdent-version)`,
    );
  }
  return {
    version,
    source: "registry",
    note:
      `k0rdent ${version}: the highest version of ${repository} in the registry ${endpoint.address}`,
  };
}

/**
 * The highest SemVer among chart tags (`+` stored as `_`): the highest release, or the highest
 * pre-release when there is no release; undefined when no tag is a version.
 */
export function highestVersion(tags: readonly string[]): string | undefined {
  const versions = tags.map((t) => t.replaceAll("_", "+")).filter((v) =>
    !v.startsWith("v") && semver.valid(v) !== null
  )
    .sort(semver.rcompare);
  return versions.find((v) => semver.prerelease(v) === null) ?? versions[0];
}

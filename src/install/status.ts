/**
 * `status`: k0s installed/running/version, node readiness, the `Management`
 * object and its components, installed vs available versions (what `upgrade` would move to),
 * and in air-gap installs the local registry's reachability and image count (tags across its
 * repositories); read-only.
 */
import { registryEndpoint } from "../airgap_registry/endpoint.ts";
import { findRegistryCa } from "../airgap_registry/resolve.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { HostMutator } from "../host/mutator.ts";
import { HOST } from "../host/paths.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { Kubectl, type ManagementState, type NodeReadiness } from "../kube/kubectl.ts";
import type { Runner } from "../process/runner.ts";
import { registryImageCount, registryTags } from "./registry_probe.ts";
import { loadState } from "./state.ts";
import { readBuildInfo } from "../assets/build_info.ts";
import { findAsset } from "../assets/extract.ts";
import { airgapChartRepository } from "../k0rdent/helm_command.ts";
import { highestVersion } from "./resolve.ts";

/** Installed vs available versions. */
export interface VersionStatus {
  k0rdent: {
    /** The version of the Release the Management runs (else the one last installed). */
    installed: string | null;
    /** The Release the Management runs. */
    release: string | null;
    /** Air gap: the highest k0rdent chart version in the registry; online: null. */
    available: string | null;
  };
  k0s: {
    running: string | null;
    /** The k0s this build brings: embedded (air-gap build) or the configured download. */
    available: string;
  };
}

/** The health of this host's install. */
export interface HostStatus {
  healthy: boolean;
  /** Why it is not healthy, one line each. */
  problems: string[];
  k0s: {
    installed: boolean;
    version: string | null;
    running: boolean;
    role?: string;
    apiProbeOk?: boolean;
  };
  nodes: NodeReadiness[] | null;
  k0rdent: ManagementState | null;
  versions: VersionStatus;
  registry?: {
    address: string;
    reachable: boolean;
    /** Images: tags across all repositories of the catalog. */
    images?: number;
    repositories?: number;
    error?: string;
  };
}

/** What `status` needs. */
export interface StatusRequest {
  config: Config;
  runner: Runner;
  /** Check the local registry even when the last install was online. */
  airgap: boolean;
  commandTimeoutMs: number;
  signal: AbortSignal;
}

/** Collects the status. */
export async function hostStatus(request: StatusRequest): Promise<HostStatus> {
  // Dry-run mutator: status never changes anything.
  const host = new HostMutator(request.runner, true);
  const k0s = new K0sCli({
    runner: request.runner,
    host,
    timeoutMs: request.commandTimeoutMs,
    signal: request.signal,
  });
  const problems: string[] = [];
  const installed = await k0s.installed();
  const version = installed ? await k0s.version().catch(() => null) : null;
  const status = installed ? await k0s.status().catch(() => null) : null;
  if (!installed) problems.push("k0s is not installed");
  else if (!status) problems.push("k0s is not running");
  else if (!status.apiProbeOk) problems.push("the k0s API probe is failing");

  // A worker has no admin kubeconfig, which `k0s kubectl` needs unless given another
  // (k0sproject/k0s v1.32.8+k0s.0 cmd/kubectl/kubectl.go: "cannot stat k0s kubeconfig"): it reads
  // the nodes with the kubelet's credentials (as the join's wait does); k0rdent runs on the
  // controllers and is not checked here.
  const worker = status?.role === "worker";
  const kubectl = new Kubectl(k0s);
  const nodes = status
    ? await kubectl.nodes(worker ? host.mapPath(HOST.kubeletKubeconfig) : undefined)
    : null;
  if (status && !nodes) problems.push("the Kubernetes API does not answer");
  for (const n of nodes ?? []) if (!n.ready) problems.push(`node ${n.name} is not Ready`);

  const k0rdent = status && !worker ? await kubectl.management() : null;
  if (status && !worker && !k0rdent) {
    problems.push('k0rdent is not installed (no Management "kcm")');
  } else if (k0rdent && !k0rdent.ready) {
    problems.push(
      `k0rdent is not Ready (${k0rdent.componentsReady}/${k0rdent.componentsTotal} components)`,
    );
  }

  const state = await loadState(host);
  const running = k0rdent ? k0rdent.statusRelease || k0rdent.release : "";
  const release = running ? await kubectl.release(running) : null;
  const info = await readBuildInfo();
  const versions: VersionStatus = {
    k0rdent: {
      installed: release?.version || (k0rdent ? state.k0rdentVersion : undefined) || null,
      release: running || null,
      available: null,
    },
    k0s: {
      running: status ? version : null,
      available: info.flavor === "airgap"
        ? findAsset(info, "k0s").version
        : request.config.k0s.version,
    },
  };

  const result: HostStatus = {
    healthy: false,
    problems,
    k0s: {
      installed,
      version,
      running: status !== null,
      ...(status ? { role: status.role, apiProbeOk: status.apiProbeOk } : {}),
    },
    nodes,
    k0rdent,
    versions,
  };
  if (request.airgap || state.airgap) {
    const address = registryEndpoint(request.config).address;
    const config = structuredClone(request.config);
    config.airgap.registry.caFile = await findRegistryCa(config);
    try {
      const contents = await registryImageCount(config, { signal: request.signal });
      result.registry = { address, reachable: true, ...contents };
      const tags = await registryTags(config, airgapChartRepository(registryEndpoint(config)));
      versions.k0rdent.available = highestVersion(tags) ?? null;
    } catch (err) {
      result.registry = { address, reachable: false, error: errorMessage(err) };
      problems.push(`the registry ${address} does not answer: ${errorMessage(err)}`);
    }
  }
  result.healthy = problems.length === 0;
  return result;
}

const mark = (ok: boolean | undefined) => (ok ? "ok" : "NOT OK");

/** The status as text. */
export function formatStatus(s: HostStatus): string {
  const lines = [
    `k0s:      ${
      s.k0s.installed
        ? `${s.k0s.version ?? "?"}, ${s.k0s.running ? `running (${s.k0s.role})` : "not running"}`
        : "not installed"
    }`,
    `API:      ${s.k0s.running ? mark(s.k0s.apiProbeOk) : "-"}`,
    `Nodes:    ${
      s.nodes ? s.nodes.map((n) => `${n.name} ${n.ready ? "Ready" : "NotReady"}`).join(", ") : "-"
    }`,
    `k0rdent:  ${
      s.k0rdent
        ? `${
          s.k0rdent.ready ? "Ready" : "not Ready"
        }, components ${s.k0rdent.componentsReady}/${s.k0rdent.componentsTotal}${
          s.k0rdent.pending.length ? ` (waiting: ${s.k0rdent.pending.join(", ")})` : ""
        }`
        : "-"
    }`,
  ];
  lines.push(`Versions: ${formatVersions(s.versions)}`);
  if (s.registry) {
    lines.push(
      `Registry: ${s.registry.address} ${
        s.registry.reachable
          ? `reachable, ${s.registry.images} images in ${s.registry.repositories} repositories`
          : "unreachable"
      }`,
    );
  }
  lines.push(s.healthy ? "Healthy" : `Not healthy: ${s.problems.join("; ")}`);
  return lines.join("\n");
}

/** `k0rdent 1.2.3 (Release kcm-1-2-3), 1.3.0 available; k0s v1.32.8+k0s.0, this build brings ...` */
function formatVersions(v: VersionStatus): string {
  const k = v.k0rdent;
  const k0rdent = `k0rdent ${k.installed ?? "-"}${k.release ? ` (Release ${k.release})` : ""}${
    k.available && k.available !== k.installed
      ? `, ${k.available} available in the registry (k0rdentd upgrade)`
      : ""
  }`;
  const k0s = `k0s ${v.k0s.running ?? "-"}${
    v.k0s.available !== v.k0s.running ? `, this build brings ${v.k0s.available}` : ""
  }`;
  return `${k0rdent}; ${k0s}`;
}

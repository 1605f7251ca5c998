/**
 * Cluster reads through `k0s kubectl` (no separate kubectl needed): node
 * readiness and the k0rdent `Management` object, with parsers for the
 * `kubectl get -o json` shapes.
 */
import type { K0sCli } from "../k0s/k0s_cli.ts";

/** One node and whether its `Ready` condition is `True`. */
export interface NodeReadiness {
  name: string;
  ready: boolean;
}

interface Condition {
  type?: string;
  status?: string;
  message?: string;
  reason?: string;
}

function readyCondition(conditions: unknown): Condition | undefined {
  return Array.isArray(conditions)
    ? (conditions as Condition[]).find((c) => c?.type === "Ready")
    : undefined;
}

/** Parses `kubectl get nodes -o json`. */
export function parseNodes(json: string): NodeReadiness[] {
  const list = JSON.parse(json) as { items?: unknown[] };
  return (list.items ?? []).map((item) => {
    const node = item as { metadata?: { name?: string }; status?: { conditions?: unknown } };
    return {
      name: node.metadata?.name ?? "",
      ready: readyCondition(node.status?.conditions)?.status === "True",
    };
  });
}

/** The state of the `Management` object `kcm`. */
export interface ManagementState {
  ready: boolean;
  /** Components reporting success, and all components listed. */
  componentsReady: number;
  componentsTotal: number;
  /** Names of components not yet successful. */
  pending: string[];
  /** The Ready condition's message when not ready. */
  message: string;
  /** `spec.release`: the Release kcm is asked to run ("" when unset). */
  release: string;
  /** `status.release`: the Release kcm runs ("" until it reports one). */
  statusRelease: string;
}

/** A k0rdent `Release` object. */
export interface ReleaseState {
  name: string;
  /** `spec.version`. */
  version: string;
  /** `status.ready`: its templates exist and are valid, kcm can move to it. */
  ready: boolean;
  /** Messages of conditions that are not True. */
  problems: string[];
}

/** Parses `kubectl get release <name> -o json`. */
export function parseRelease(json: string): ReleaseState {
  const obj = JSON.parse(json) as {
    metadata?: { name?: string };
    spec?: { version?: string };
    status?: { ready?: boolean; conditions?: Condition[] };
  };
  return {
    name: obj.metadata?.name ?? "",
    version: obj.spec?.version ?? "",
    ready: obj.status?.ready === true,
    problems: (Array.isArray(obj.status?.conditions) ? obj.status.conditions : [])
      .filter((c) => c?.status !== "True").map((c) => `${c.type}: ${c.message ?? c.reason ?? ""}`),
  };
}

/** Parses `kubectl get management kcm -o json`. */
export function parseManagement(json: string): ManagementState {
  const obj = JSON.parse(json) as {
    spec?: { release?: string };
    status?: {
      conditions?: unknown;
      components?: Record<string, { success?: boolean }>;
      release?: string;
    };
  };
  const components = Object.entries(obj.status?.components ?? {});
  const pending = components.filter(([, c]) => c?.success !== true).map(([name]) => name);
  const ready = readyCondition(obj.status?.conditions);
  return {
    ready: ready?.status === "True",
    componentsReady: components.length - pending.length,
    componentsTotal: components.length,
    pending,
    message: ready?.message ?? ready?.reason ?? "",
    release: obj.spec?.release ?? "",
    statusRelease: obj.status?.release ?? "",
  };
}

/** Parses the node addresses (InternalIP first, then ExternalIP) of `kubectl get nodes -o json`. */
export function parseNodeAddresses(json: string): string[] {
  const list = JSON.parse(json) as { items?: unknown[] };
  const out: string[] = [];
  for (const type of ["InternalIP", "ExternalIP"]) {
    for (const item of list.items ?? []) {
      const node = item as { status?: { addresses?: { type?: string; address?: string }[] } };
      for (const a of node.status?.addresses ?? []) {
        if (a.type === type && a.address && !out.includes(a.address)) out.push(a.address);
      }
    }
  }
  return out;
}

/** Reads cluster state with `k0s kubectl`. */
export class Kubectl {
  constructor(readonly k0s: K0sCli) {}

  /**
   * `kubectl get <args> -o json` parsed; null when the object does not exist
   * (or the API does not answer).
   */
  async getJson(args: readonly string[]): Promise<unknown | null> {
    const result = await this.k0s.kubectl(["get", ...args, "-o", "json"]);
    if (result.code !== 0 || result.timedOut) return null;
    try {
      return JSON.parse(result.stdout);
    } catch {
      return null;
    }
  }

  /** Addresses of the nodes (InternalIP first); empty when unknown. */
  async nodeAddresses(): Promise<string[]> {
    const result = await this.k0s.kubectl(["get", "nodes", "-o", "json"]);
    if (result.code !== 0 || result.timedOut) return [];
    try {
      return parseNodeAddresses(result.stdout);
    } catch {
      return [];
    }
  }

  /**
   * Nodes and their readiness; null when the API does not answer. `kubeconfig`: other
   * credentials than k0s's admin kubeconfig (a worker has none).
   */
  async nodes(kubeconfig?: string): Promise<NodeReadiness[] | null> {
    const result = await this.k0s.kubectl([
      ...(kubeconfig ? ["--kubeconfig", kubeconfig] : []),
      "get",
      "nodes",
      "-o",
      "json",
    ]);
    if (result.code !== 0 || result.timedOut) return null;
    try {
      return parseNodes(result.stdout);
    } catch {
      return null;
    }
  }

  /** The `Release` object `name`; null when absent or the API does not answer. */
  async release(name: string): Promise<ReleaseState | null> {
    const result = await this.k0s.kubectl(["get", "release", name, "-o", "json"]);
    if (result.code !== 0 || result.timedOut) return null;
    try {
      return parseRelease(result.stdout);
    } catch {
      return null;
    }
  }

  /** The `Management` object `kcm`; null when absent or the API does not answer. */
  async management(name = "kcm"): Promise<ManagementState | null> {
    const result = await this.k0s.kubectl(["get", "management", name, "-o", "json"]);
    if (result.code !== 0 || result.timedOut) return null;
    try {
      return parseManagement(result.stdout);
    } catch {
      return null;
    }
  }
}

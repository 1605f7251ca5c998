/**
 * The nodes of a k0s cluster as an upgrade sees them: each `Node` with its readiness, kubelet
 * version and platform labels, and which of them are k0s controllers (autopilot's `ControlNode`
 * objects, with the k0s version they report).
 */
import type { Kubectl } from "../kube/kubectl.ts";

/** One node of the cluster. */
export interface ClusterNode {
  name: string;
  ready: boolean;
  /** `status.nodeInfo.kubeletVersion`, e.g. `v1.32.8+k0s`. */
  kubeletVersion: string;
  /** `<os>-<arch>` from the `kubernetes.io/os` and `kubernetes.io/arch` labels, or "". */
  platform: string;
  /** True when a `ControlNode` of that name exists (a controller, maybe also a worker). */
  controller: boolean;
  /** The k0s version the `ControlNode` reports (`status.k0sVersion`); "" for workers. */
  k0sVersion: string;
}

interface NodeItem {
  metadata?: { name?: string; labels?: Record<string, string> };
  status?: {
    conditions?: { type?: string; status?: string }[];
    nodeInfo?: { kubeletVersion?: string };
    k0sVersion?: string;
  };
}

function items(list: unknown): NodeItem[] {
  const raw = (list as { items?: unknown } | null)?.items;
  return Array.isArray(raw) ? raw as NodeItem[] : [];
}

/** autopilot's platform of a node (`pkg/autopilot/.../k0supdate/utils/ident.go`): `<os>-<arch>`. */
function platformOf(item: NodeItem): string {
  const os = item.metadata?.labels?.["kubernetes.io/os"];
  const arch = item.metadata?.labels?.["kubernetes.io/arch"];
  return os && arch ? `${os}-${arch}` : "";
}

/**
 * Joins `kubectl get nodes -o json` and `kubectl get controlnodes -o json` (null when the
 * ControlNode API is absent: then no node is known as a controller).
 */
export function parseClusterNodes(nodes: unknown, controlNodes: unknown): ClusterNode[] {
  const controllers = new Map(
    items(controlNodes).map((c) => [c.metadata?.name ?? "", c.status?.k0sVersion ?? ""]),
  );
  const out: ClusterNode[] = items(nodes).map((n) => {
    const name = n.metadata?.name ?? "";
    return {
      name,
      ready: (n.status?.conditions ?? []).some((c) => c?.type === "Ready" && c.status === "True"),
      kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? "",
      platform: platformOf(n),
      controller: controllers.has(name),
      k0sVersion: controllers.get(name) ?? "",
    };
  });
  // A controller without a worker has no Node: its ControlNode alone says where it is.
  for (const c of items(controlNodes)) {
    const name = c.metadata?.name ?? "";
    if (out.some((n) => n.name === name)) continue;
    out.push({
      name,
      ready: true,
      kubeletVersion: "",
      platform: platformOf(c),
      controller: true,
      k0sVersion: c.status?.k0sVersion ?? "",
    });
  }
  return out;
}

/** The version a node runs: its ControlNode's k0s version, else its kubelet's. */
export function nodeVersion(node: ClusterNode): string {
  return node.k0sVersion || node.kubeletVersion;
}

/** The cluster's nodes; null when the API does not list them. */
export async function clusterNodes(kubectl: Kubectl): Promise<ClusterNode[] | null> {
  const nodes = await kubectl.getJson(["nodes"]);
  if (!nodes) return null;
  return parseClusterNodes(nodes, await kubectl.getJson(["controlnodes"]));
}

/**
 * The k0s autopilot `Plan` that upgrades a multi-node cluster, and the reading of its status.
 *
 * Checked in github.com/k0sproject/k0s at v1.32.8+k0s.0:
 * - `pkg/apis/autopilot/v1beta2/types.go` and the CRD `static/_crds/autopilot/
 *   autopilot.k0sproject.io_plans.yaml`: `Plan` (cluster-scoped) with `spec.id`,
 *   `spec.timestamp` and `spec.commands` required; a `k0supdate` command needs `version`,
 *   `platforms` (`<os>-<arch>` → `url` required, `sha256` optional) and `targets`
 *   (`controllers`/`workers`, each with a required `discovery`: `static.nodes` or `selector`).
 * - `pkg/autopilot/constant/static.go` and `pkg/autopilot/controller/plans/init.go`: only the
 *   Plan named `autopilot` is acted on (`PlanNamePredicate(AutopilotName)`).
 * - `pkg/autopilot/controller/plans/cmdprovider/k0supdate/newplan.go`: controllers are found as
 *   `ControlNode` objects, workers as `Node` objects; a node's platform is its
 *   `kubernetes.io/os`-`kubernetes.io/arch` labels (`utils/ident.go`), and a node without a
 *   platform in the Plan makes the Plan `IncompleteTargets`.
 * - `pkg/autopilot/controller/plans/core/types.go`: the Plan states (`Schedulable`,
 *   `SchedulableWait`, `Completed`, and the ending errors `Warning`, `InconsistentTargets`,
 *   `IncompleteTargets`, `Restricted`, `MissingSignalNode`, `ApplyFailed`) and the node states
 *   (`SignalPending`, `SignalSent`, `SignalCompleted`, `SignalMissingNode`,
 *   `SignalMissingPlatform`, `SignalApplyFailed`).
 * - `docs/autopilot.md`: "Plans are Immutable": after autopilot took a Plan in, changes to its
 *   spec are ignored, so a new upgrade replaces (deletes, then applies) the Plan.
 */

/** The only Plan name autopilot acts on. */
export const PLAN_NAME = "autopilot";
/** The API group and version of autopilot's objects. */
export const AUTOPILOT_API_VERSION = "autopilot.k0sproject.io/v1beta2";

/** Where one platform's k0s binary is downloaded from, and its digest. */
export interface PlatformBinary {
  url: string;
  /** Hex SHA-256 of the binary: autopilot checks the download against it. */
  sha256: string;
}

/** What the Plan upgrades to, and on which nodes. */
export interface K0sUpdatePlan {
  version: string;
  /** By `<os>-<arch>`, e.g. `linux-amd64`. */
  platforms: Record<string, PlatformBinary>;
  /** Names of the `ControlNode` objects (controller and controller+worker nodes). */
  controllers: string[];
  /** Names of the worker-only `Node` objects. */
  workers: string[];
  /** `spec.id`, e.g. `k0rdentd-v1.33.4+k0s.0`. */
  id: string;
  /** `spec.timestamp` (informational). */
  timestamp: string;
}

/** The Plan object (apply it as JSON or YAML). Targets are listed statically by name. */
export function autopilotPlan(plan: K0sUpdatePlan): Record<string, unknown> {
  const target = (nodes: string[]) => ({ discovery: { static: { nodes } } });
  return {
    apiVersion: AUTOPILOT_API_VERSION,
    kind: "Plan",
    metadata: { name: PLAN_NAME },
    spec: {
      id: plan.id,
      timestamp: plan.timestamp,
      commands: [{
        k0supdate: {
          version: plan.version,
          platforms: plan.platforms,
          targets: {
            ...(plan.controllers.length ? { controllers: target(plan.controllers) } : {}),
            ...(plan.workers.length ? { workers: target(plan.workers) } : {}),
          },
        },
      }],
    },
  };
}

/** The states after which autopilot does nothing more with a Plan. */
const FAILED_STATES: ReadonlySet<string> = new Set([
  "Warning",
  "InconsistentTargets",
  "IncompleteTargets",
  "Restricted",
  "MissingSignalNode",
  "ApplyFailed",
]);

/** One node of a Plan's status. */
export interface PlanNodeStatus {
  name: string;
  role: "controller" | "worker";
  state: string;
}

/** What `kubectl get plan autopilot -o json` says. */
export interface PlanStatus {
  /** `spec.id`. */
  id: string;
  /** The k0supdate command's version. */
  version: string;
  /** `status.state`; "" before autopilot took the Plan in. */
  state: string;
  /** The command's description (why it failed, for `Warning`). */
  description: string;
  nodes: PlanNodeStatus[];
}

/** Parses a Plan object (from `kubectl get plan autopilot -o json`). */
export function parsePlanStatus(obj: unknown): PlanStatus {
  const plan = obj as {
    spec?: { id?: string; commands?: { k0supdate?: { version?: string } }[] };
    status?: {
      state?: string;
      commands?: {
        description?: string;
        k0supdate?: Record<"controllers" | "workers", { name?: string; state?: string }[]>;
      }[];
    };
  };
  const command = plan.status?.commands?.[0];
  const nodes: PlanNodeStatus[] = [];
  for (const [key, role] of [["controllers", "controller"], ["workers", "worker"]] as const) {
    for (const n of command?.k0supdate?.[key] ?? []) {
      nodes.push({ name: n.name ?? "", role, state: n.state ?? "" });
    }
  }
  return {
    id: plan.spec?.id ?? "",
    version: plan.spec?.commands?.[0]?.k0supdate?.version ?? "",
    state: plan.status?.state ?? "",
    description: command?.description ?? "",
    nodes,
  };
}

/** True when autopilot ended the Plan with an error. */
export function planFailed(status: PlanStatus): boolean {
  return FAILED_STATES.has(status.state);
}

/** One line on a failed Plan: its state, the command's description, and the nodes not done. */
export function describePlanFailure(status: PlanStatus): string {
  const stuck = status.nodes.filter((n) => n.state !== "SignalCompleted")
    .map((n) => `${n.name} ${n.state}`);
  return `autopilot Plan "${PLAN_NAME}" ended in state ${status.state}` +
    (status.description ? `: ${status.description}` : "") +
    (stuck.length ? ` (${stuck.join(", ")})` : "");
}

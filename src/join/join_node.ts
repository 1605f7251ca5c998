/**
 * `install --join`: the install phases that apply to a joining node (preflight without the
 * k0rdent chart check, k0s binary, k0s.yaml for controllers, registry drop-ins, in an air gap
 * with the local registry names as aliases), then the join token,
 * `k0s install <role> --token-file`, `k0s start` and the wait for the node to be `Ready`.
 * A node where k0s already runs in that role is left alone.
 */
import type { Config } from "../config/schema.ts";
import { UsageError, UserError } from "../errors.ts";
import { HOST } from "../host/paths.ts";
import { hostMutatorFor, installContext, type InstallRequest } from "../install/install.ts";
import { checkInputFiles } from "../install/options.ts";
import type { Phase, PreflightFinding } from "../install/phase.ts";
import { formatPreflightFindings, preflightPhaseWith } from "../install/phases/preflight.ts";
import { containerdMirrorsPhaseWith } from "../install/phases/containerd_mirrors.ts";
import { k0sBinaryPhase } from "../install/phases/k0s_binary.ts";
import { k0sConfigPhase } from "../install/phases/k0s_config.ts";
import { PREFLIGHT_CHECKS } from "../install/preflight.ts";
import { type PhaseResult, runPhases } from "../install/run_phases.ts";
import { lockHost } from "../install/state.ts";
import { log } from "../log/logger.ts";
import { registryEndpoint } from "../airgap_registry/endpoint.ts";
import { registryAliases } from "./node_address.ts";
import { joinServicePhase } from "./phases/join_service.ts";
import { registryReplicaPhase } from "./phases/registry_replica.ts";
import { joinTokenPhase } from "./phases/join_token.ts";
import { nodeName, waitJoinedPhase } from "./phases/wait_joined.ts";
import { type JoinRole, readTokenFile } from "./token.ts";
import { formatPlan } from "../host/mutator.ts";

/** The join flags of `install`. */
export interface JoinFlags {
  join?: boolean;
  mode?: string;
  tokenFile?: string;
  token?: string;
}

/** A resolved join: the role and the token (a secret: never logged). */
export interface JoinSpec {
  role: JoinRole;
  token: string;
}

const ROLES: readonly string[] = ["controller", "worker"];

/**
 * The join asked for by flags and the config's `join:` section (flags win), or null for a plain
 * install. `join.mode` in the config alone means join, so a join file is never mistaken for a
 * first install.
 */
export async function resolveJoin(flags: JoinFlags, config: Config): Promise<JoinSpec | null> {
  if (!flags.join && config.join.mode === "") {
    if (flags.mode !== undefined || flags.token !== undefined || flags.tokenFile !== undefined) {
      throw new UsageError("--mode, --token and --token-file need --join");
    }
    return null;
  }
  if (!flags.join) {
    log.info(`The config's join.mode is "${config.join.mode}": joining an existing cluster`);
  }
  const mode = flags.mode ?? config.join.mode;
  if (!ROLES.includes(mode)) {
    throw new UsageError(
      mode === ""
        ? "install --join needs --mode controller|worker (or join.mode in the config)"
        : `Invalid --mode "${mode}": expected controller or worker`,
    );
  }
  if (flags.token !== undefined && flags.tokenFile !== undefined) {
    throw new UsageError("Use either --token or --token-file, not both");
  }
  let token: string;
  if (flags.token !== undefined) token = flags.token.trim();
  else if (flags.tokenFile !== undefined) token = await readTokenFile(flags.tokenFile);
  else if (config.join.token !== "") token = config.join.token.trim();
  else if (config.join.tokenFile !== "") token = await readTokenFile(config.join.tokenFile);
  else {
    throw new UsageError(
      "install --join needs a join token: --token-file FILE, --token TOKEN, or join.token in the config",
    );
  }
  if (token === "" || /\s/.test(token)) {
    throw new UserError("The join token is empty or not a single token (from k0s token create)");
  }
  return { role: mode as JoinRole, token };
}

// The cluster's k0s.yaml may name images after the first node's localhost:5000, which on this
// node must lead to the registry it reaches.
const joinMirrorsPhase = containerdMirrorsPhaseWith((ctx) =>
  ctx.options.airgap ? registryAliases(registryEndpoint(ctx.config).address) : []
);

/** Preflight checks about the first install only. */
const JOIN_SKIPS: readonly string[] = [
  "k0s-images",
  "k0rdent-version",
  "bundle-version",
  "release-name",
];

/**
 * The phases of a join as `role`; `replica`: an air-gap controller also runs a registry replica
 * (`join.registryReplica`), before k0s joins, so its own pulls have one more registry.
 */
export function joinPhases(spec: JoinSpec, replica = false): Phase[] {
  return [
    // The k0s system images are those of the cluster's config, in the registry the first
    // install checked (k0s-images); a worker has no k0s.yaml to list them with.
    preflightPhaseWith(
      PREFLIGHT_CHECKS.filter((c) => !JOIN_SKIPS.includes(c.name)),
    ),
    k0sBinaryPhase,
    ...(spec.role === "controller" ? [k0sConfigPhase] : []),
    joinMirrorsPhase,
    ...(replica ? [registryReplicaPhase] : []),
    joinTokenPhase(spec.role, spec.token),
    joinServicePhase(spec.role),
    waitJoinedPhase(spec.role),
  ];
}

/** What a join did. */
export interface JoinSummary {
  dryRun: boolean;
  role: JoinRole;
  node: string;
  airgap: boolean;
  k0sVersion: string | null;
  /** k0s already ran here in this role; nothing was changed. */
  alreadyJoined: boolean;
  phases: PhaseResult[];
  changes: string[];
  /** Dry run: the preflight checks that failed (the join would stop there); else empty. */
  preflightFindings: PreflightFinding[];
  /**
   * The registry replica started here (`join.registryReplica`): its port, which the operator
   * adds to `airgap.registry.address` of the other nodes (docs/multi-node.md).
   */
  registryReplica?: { port: number };
}

/** Joins this host to the cluster as `spec.role`. */
export async function joinNode(request: InstallRequest, spec: JoinSpec): Promise<JoinSummary> {
  if (request.config.join.registryReplica) {
    if (spec.role !== "controller") {
      throw new UsageError("--registry-replica (join.registryReplica) is for --mode controller");
    }
    if (!request.options.airgap) {
      throw new UsageError("--registry-replica (join.registryReplica) needs --airgap");
    }
  }
  await checkInputFiles(request.options, request.config);
  const host = hostMutatorFor(request);
  const release = await lockHost(host);
  try {
    return await joinLocked({ ...request, host }, spec);
  } finally {
    await release();
  }
}

async function joinLocked(request: InstallRequest, spec: JoinSpec): Promise<JoinSummary> {
  const ctx = await installContext(request);
  const summary = (alreadyJoined: boolean, phases: PhaseResult[]): JoinSummary => ({
    dryRun: request.dryRun,
    role: spec.role,
    node: nodeName(),
    airgap: request.options.airgap,
    k0sVersion: null,
    alreadyJoined,
    phases,
    changes: ctx.host.changes,
    preflightFindings: ctx.facts.preflightFindings ?? [],
    ...(request.config.join.registryReplica
      ? { registryReplica: { port: request.config.registry.port } }
      : {}),
  });
  const status = await ctx.k0s.status();
  if (status && await ctx.k0s.serviceInstalled(spec.role)) {
    log.info(`k0s ${status.version} already runs here as ${status.role}: not joining again`);
    // What a config change can still move on a joined node: the registry drop-ins (a longer
    // airgap.registry.address list) and the replica (asked for on a controller that joined
    // earlier). Both are skipped when current.
    const phases = await runPhases(
      [joinMirrorsPhase, ...(request.config.join.registryReplica ? [registryReplicaPhase] : [])],
      ctx,
      'Fix the cause and run "k0rdentd install --join" again',
    );
    return { ...summary(true, phases), k0sVersion: status.version };
  }
  const phases = await runPhases(
    joinPhases(spec, request.config.join.registryReplica),
    ctx,
    'Fix the cause and run "k0rdentd install --join" again with the same flags: finished phases are skipped',
  );
  return { ...summary(false, phases), k0sVersion: await ctx.k0s.version().catch(() => null) };
}

/** The summary as text. */
export function formatJoinSummary(s: JoinSummary): string {
  if (s.dryRun) {
    return [
      `Joining as a ${s.role}`,
      formatPlan(s.changes),
      ...formatPreflightFindings(s.preflightFindings),
    ].join("\n");
  }
  const done = s.phases.filter((p) => p.status === "done").length;
  return [
    s.alreadyJoined
      ? `Node ${s.node} already runs k0s ${s.k0sVersion ?? "?"} as a ${s.role}; ${
        done ? `registry settings brought up to date (${done} phase(s) run)` : "nothing changed"
      }`
      : `Node ${s.node} joined the cluster as a ${s.role} with k0s ${s.k0sVersion ?? "?"}${
        s.airgap ? " (air-gapped)" : ""
      } (${done} phase(s) run)`,
    `Check it on a controller: k0s kubectl get node ${s.node}`,
    ...(s.registryReplica
      ? [
        `Registry replica: systemctl status k0rdentd-registry; k0rdentd registry status. Once in sync, add <this node's IP>:${s.registryReplica.port} to airgap.registry.address on every node and rerun its install (docs/multi-node.md, "A registry replica on a joining controller")`,
      ]
      : []),
    ...(s.role === "controller" ? [`Kubeconfig here: ${HOST.k0sAdminKubeconfig}`] : []),
  ].join("\n");
}

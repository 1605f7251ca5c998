/**
 * Phase: move the cluster to the k0s this build (or `--k0s-binary`, or the download) brings, the
 * k0s way (docs/upgrade.md "## k0s"). A single node: stop k0s, replace `/usr/local/bin/k0s`,
 * start it (k0s `docs/upgrade.md`, "Upgrade a k0s node locally"). Several nodes: an autopilot
 * `Plan` whose binary URLs point at the registry's files listener (air gap) or the k0s release
 * (online), sha256 pinned ({@link autopilotPlan}). Then wait until every node is Ready at the new
 * version. The same version is nothing to do; an older one is refused unless `--allow-downgrade`;
 * a minor skip is refused ({@link k0sChange}). In an air gap, the new k0s's system images must be
 * in the registry before anything changes (the k0s-images check).
 */
import { UserError } from "../../errors.ts";
import { pathExists } from "../../fsx/exists.ts";
import { HOST } from "../../host/paths.ts";
import { hashFile, hashStream } from "../../hash/sha.ts";
import { installK0sBinary, k0sSource, withWantedK0s } from "../../install/phases/k0s_binary.ts";
import { checkK0sImages } from "../../install/k0s_images.ts";
import {
  containerdMirrorsRewrite,
  hasMirrorDropIns,
} from "../../install/phases/containerd_mirrors.ts";
import { containerdConfigVersion } from "../../k0s/containerd_mirrors.ts";
import type { InstallContext, K0sUpgradeReport, Phase } from "../../install/phase.ts";
import { type Probe, waitUntil } from "../../install/wait.ts";
import {
  autopilotPlan,
  describePlanFailure,
  type K0sUpdatePlan,
  parsePlanStatus,
  PLAN_NAME,
  planFailed,
  type PlatformBinary,
} from "../../k0s/autopilot_plan.ts";
import { type ClusterNode, clusterNodes, nodeVersion } from "../../k0s/cluster_nodes.ts";
import { k0sAssetName, k0sReleaseChecksum } from "../../k0s/download.ts";
import {
  compareK0sVersions,
  k0sChange,
  type K0sVersion,
  parseK0sVersion,
  requireK0sVersion,
} from "../../k0s/k0s_version.ts";
import { airgapK0sURL } from "../../k0rdent/helm_values.ts";
import { log } from "../../log/logger.ts";
import { openK0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import { k0sUrl, OFFICIAL_SOURCES } from "../../releases/pins.ts";

/** What the cluster runs and what the phase would do. */
interface Assessment {
  target: K0sVersion;
  /** The cluster's nodes; null when k0s is not running here (the API is out of reach). */
  nodes: ClusterNode[] | null;
  /** True when something is left to do (a node not at the target, k0s not running here). */
  pending: boolean;
  report: K0sUpgradeReport;
}

/** True when `node` reports `target` (a kubelet version matches every k0s build). */
function atTarget(node: ClusterNode, target: K0sVersion): boolean {
  const v = parseK0sVersion(nodeVersion(node));
  return v !== null && compareK0sVersions(v, target) === 0;
}

function nodeLines(nodes: readonly ClusterNode[]): { name: string; version: string }[] {
  return nodes.map((n) => ({ name: n.name, version: nodeVersion(n) }));
}

async function assess(ctx: InstallContext): Promise<Assessment> {
  const installedText = await ctx.k0s.version();
  if (installedText === null) {
    throw new UserError(
      'k0s is not installed on this host: run "k0rdentd install" first (upgrade runs on the ' +
        "first controller)",
    );
  }
  const installed = requireK0sVersion(installedText, "the installed k0s");
  const target = requireK0sVersion((await k0sSource(ctx)).version, "the new k0s");
  const running = await ctx.k0s.status();
  const nodes = running ? await clusterNodes(ctx.kubectl) : null;
  if (running && !nodes) {
    throw new UserError("Cannot list the cluster's nodes: the Kubernetes API does not answer");
  }
  const versions = [
    installed,
    ...(nodes ?? []).map((n) => requireK0sVersion(nodeVersion(n), `node "${n.name}"`)),
  ].sort(compareK0sVersions);
  const oldest = versions[0];
  const newest = versions[versions.length - 1];
  // Any node newer than the target makes it a downgrade; else the oldest decides the step.
  const change = compareK0sVersions(newest, target) > 0
    ? k0sChange(newest, target, ctx.options.allowDowngrade)
    : k0sChange(oldest, target, ctx.options.allowDowngrade);
  const pending = compareK0sVersions(installed, target) !== 0 || running === null ||
    running.version !== target.raw || (nodes ?? []).some((n) => !atTarget(n, target));
  const report: K0sUpgradeReport = {
    from: oldest.raw,
    to: target.raw,
    change,
    method: nodes && nodes.length > 1 ? "autopilot" : "swap",
    nodes: nodeLines(nodes ?? []),
  };
  return { target, nodes, pending, report };
}

/** Fails before any change when the registry lacks the new k0s's system images (air gap). */
async function requireImages(ctx: InstallContext, target: K0sVersion): Promise<void> {
  const problem = await checkK0sImages(ctx);
  if (problem) {
    throw new UserError(
      `Cannot upgrade k0s to ${target.raw}: ${problem}; load the bundle that carries them ` +
        "first (nothing was changed)",
    );
  }
}

/**
 * Where nodes of `arch` download the new k0s in an air gap: the registry's files listener (or
 * `airgap.k0sURL`). The binary of this host's architecture (`local`) is added to the registry
 * storage when it is not there; other architectures must be there already.
 */
async function airgapBinary(
  ctx: InstallContext,
  version: string,
  arch: string,
  local: { path: string; sha256: string } | null,
): Promise<PlatformBinary> {
  const base = airgapK0sURL(ctx.config);
  const name = k0sAssetName(version, arch);
  if (!base) {
    throw new UserError(
      `Cannot upgrade a multi-node cluster in an air gap without a place nodes download k0s ` +
        `from: registry.filesPort is 0 and airgap.k0sURL is empty (set either)`,
    );
  }
  const url = `${base}/${name}`;
  if (ctx.config.airgap.k0sURL) {
    // A file server of the user's: k0rdentd cannot add to it; the digest is the local binary's.
    if (!local) {
      throw new UserError(
        `Cannot pin the sha256 of "${url}": k0rdentd has only the ${ctx.options.arch} binary`,
      );
    }
    return { url, sha256: local.sha256 };
  }
  // A configured path, as the registry daemon, the CA lookup and bundle loads use it (not a
  // host path under K0RDENTD_ROOT).
  const storage = ctx.config.registry.storage;
  if (!await pathExists(storage)) {
    throw new UserError(
      `Cannot add ${name} to the registry storage "${ctx.config.registry.storage}": it is not ` +
        'on this host (add it where the registry runs with "k0rdentd registry add-k0s-binary")',
    );
  }
  const store = openK0sBinaryStore(storage);
  const stored = await store.open(name);
  if (stored) {
    const sha256 = await hashStream(stored);
    if (local && sha256 !== local.sha256) {
      throw new UserError(
        `The registry storage "${ctx.config.registry.storage}" holds another ${name} than the ` +
          `k0s to install (sha256 ${sha256}, not ${local.sha256}): remove it or replace it ` +
          "with the right one",
      );
    }
    return { url, sha256 };
  }
  if (!local) {
    throw new UserError(
      `A node is ${arch} but the registry storage "${ctx.config.registry.storage}" has no ` +
        `${name}: add it with "k0rdentd registry add-k0s-binary"`,
    );
  }
  await ctx.host.wet(
    `store ${name} in the registry storage ${ctx.config.registry.storage} (served as ${url})`,
    async () => {
      const staged = await store.stage(name, (await Deno.open(local.path)).readable);
      await staged.commit();
    },
  );
  return { url, sha256: local.sha256 };
}

/** The Plan's platforms: one binary (URL and sha256) per `<os>-<arch>` of the nodes. */
async function planPlatforms(
  ctx: InstallContext,
  version: string,
  nodes: readonly ClusterNode[],
): Promise<Record<string, PlatformBinary>> {
  const unlabelled = nodes.filter((n) => !n.platform).map((n) => n.name);
  if (unlabelled.length) {
    throw new UserError(
      `Cannot tell the platform of node(s) ${unlabelled.join(", ")}: no kubernetes.io/os and ` +
        "kubernetes.io/arch labels (autopilot needs them)",
    );
  }
  const platforms = [...new Set(nodes.map((n) => n.platform))].sort();
  const other = platforms.filter((p) => !p.startsWith("linux-"));
  if (other.length) throw new UserError(`Cannot upgrade k0s on ${other.join(", ")} nodes`);
  return await withWantedK0s(ctx, async (program) => {
    const local = { path: program, sha256: await hashFile(program) };
    const out: Record<string, PlatformBinary> = {};
    for (const platform of platforms) {
      const arch = platform.slice("linux-".length);
      const mine = arch === ctx.options.arch ? local : null;
      if (ctx.options.airgap) out[platform] = await airgapBinary(ctx, version, arch, mine);
      else {
        out[platform] = {
          url: k0sUrl({ ...OFFICIAL_SOURCES, k0sBase: ctx.options.k0sDownloadUrl }, version, arch),
          sha256: mine?.sha256 ??
            await k0sReleaseChecksum(ctx.options.k0sDownloadUrl, version, arch, ctx.signal),
        };
      }
    }
    return out;
  });
}

/** Waits until every node is Ready at `target` (and, with `local`, this host's k0s runs it). */
async function waitNodesAt(
  ctx: InstallContext,
  target: K0sVersion,
  timeoutMs: number,
  local: boolean,
): Promise<ClusterNode[]> {
  let last: ClusterNode[] = [];
  await waitUntil({
    label: `k0s ${target.raw} on every node`,
    timeoutMs,
    intervalMs: ctx.options.pollIntervalMs,
    signal: ctx.signal,
    output: ctx.output,
    hint: 'see "journalctl -u k0scontroller"; raise the limit with --timeout',
  }, async (): Promise<Probe> => {
    const status = await ctx.k0s.status().catch(() => null);
    if (local && status?.version !== target.raw) {
      return { ready: false, detail: `k0s here runs ${status?.version ?? "nothing yet"}` };
    }
    const nodes = await clusterNodes(ctx.kubectl);
    if (!nodes || nodes.length === 0) return { ready: false, detail: "no node listed yet" };
    last = nodes;
    const behind = nodes.filter((n) => !n.ready || !atTarget(n, target));
    return {
      ready: behind.length === 0,
      detail: `not Ready at ${target.raw}: ${
        behind.map((n) => `${n.name} (${nodeVersion(n) || "?"})`).join(", ")
      }`,
      items: { done: nodes.length - behind.length, total: nodes.length },
    };
  });
  return last;
}

/**
 * Single node: stop k0s, swap the binary, rewrite the containerd drop-ins for it (their schema
 * changes at k0s 1.36, see {@link containerdMirrorsRewrite}; worked out before the stop), start
 * it (each step only when still needed).
 */
async function swapBinary(ctx: InstallContext, target: K0sVersion): Promise<void> {
  const source = await k0sSource(ctx);
  const binaryDone = await ctx.k0s.version() === source.version;
  const status = await ctx.k0s.status();
  if (binaryDone && status?.version === target.raw) return;
  const rewrite = await containerdMirrorsRewrite(ctx, source.version);
  if (status) await ctx.k0s.stop();
  if (!binaryDone) await installK0sBinary(ctx, source);
  await rewrite?.();
  await ctx.k0s.start();
}

/**
 * Starts a stopped k0s, with its drop-ins rewritten for the installed binary first: a run
 * stopped between a swap and its rewrite left them in the other schema.
 */
async function startInstalled(ctx: InstallContext): Promise<void> {
  const installed = await ctx.k0s.version();
  if (installed) await (await containerdMirrorsRewrite(ctx, installed))?.();
  await ctx.k0s.start();
}

/** The Plan as it is in the cluster, or null. */
async function currentPlan(ctx: InstallContext) {
  const obj = await ctx.kubectl.getJson(["plan", PLAN_NAME]);
  return obj ? parsePlanStatus(obj) : null;
}

/**
 * Why a new Plan to `target` must not be applied, or null: it would move nodes holding registry
 * drop-ins across k0s 1.36. Autopilot restarts each node on the new k0s, which refuses the
 * drop-ins of the old schema ({@link containerdMirrorsRewrite}), and nothing can rewrite another
 * node's files at that moment (the new schema would stop the old k0s's containerd). Each node has
 * to be swapped by hand, as `docs/upgrade.md` says ("Across k0s 1.36 on several nodes").
 */
async function schemaChangeProblem(
  ctx: InstallContext,
  target: string,
  nodes: readonly ClusterNode[],
): Promise<string | null> {
  const schema = containerdConfigVersion(target);
  const other = nodes.filter((n) => containerdConfigVersion(nodeVersion(n)) !== schema);
  if (nodes.length <= 1 || other.length === 0 || !await hasMirrorDropIns(ctx)) return null;
  return `Cannot upgrade ${
    other.map((n) => `${n.name} (k0s ${nodeVersion(n)})`).join(", ")
  } to k0s ${target} with autopilot: k0s 1.36 changes containerd's config schema (to version ${schema}), ` +
    "and a node restarted on the new k0s refuses the registry drop-ins it holds in " +
    `${HOST.containerdDropIns}; upgrade each node in turn by hand (docs/upgrade.md, "Across k0s 1.36 on several nodes")`;
}

/**
 * The upgrade preflight's part of {@link schemaChangeProblem}: refuses before the upgrade changes
 * anything (k0rdent's phases run before k0s's), unless the same Plan is already under way.
 */
export async function refuseK0sSchemaChange(ctx: InstallContext): Promise<void> {
  const nodes = await clusterNodes(ctx.kubectl);
  if (!nodes || nodes.length <= 1) return;
  const target = requireK0sVersion((await k0sSource(ctx)).version, "the new k0s").raw;
  const existing = await currentPlan(ctx);
  const resuming = existing?.id === `k0rdentd-${target}` && !planFailed(existing) &&
    existing.state !== "Completed";
  if (resuming) return;
  const problem = await schemaChangeProblem(ctx, target, nodes);
  if (problem) throw new UserError(`${problem}; nothing was changed`);
}

/** Several nodes: the autopilot Plan, applied unless the same one is running; then its wait. */
async function runPlan(ctx: InstallContext, a: Assessment, nodes: ClusterNode[]): Promise<void> {
  const version = a.target.raw;
  const id = `k0rdentd-${version}`;
  const existing = await currentPlan(ctx);
  const resume = existing?.id === id && !planFailed(existing) && existing.state !== "Completed";
  if (resume) log.info(`Following the autopilot Plan "${PLAN_NAME}" already applied (${id})`);
  else {
    const problem = await schemaChangeProblem(ctx, version, nodes);
    if (problem) throw new UserError(`${problem}; no node was changed`);
    // Autopilot would wait for them (it checks every controller is ready before each update).
    const notReady = nodes.filter((n) => !n.ready).map((n) => n.name);
    if (notReady.length) {
      throw new UserError(
        `Cannot upgrade k0s while node(s) ${notReady.join(", ")} are not Ready: fix or remove ` +
          "them first (nothing was changed)",
      );
    }
    const plan: K0sUpdatePlan = {
      version,
      platforms: await planPlatforms(ctx, version, nodes),
      controllers: nodes.filter((n) => n.controller).map((n) => n.name),
      workers: nodes.filter((n) => !n.controller).map((n) => n.name),
      id,
      timestamp: new Date().toISOString(),
    };
    // Plans are immutable once autopilot took them in: an old one is replaced, not changed.
    if (existing) {
      await ctx.k0s.kubectlApply(["delete", "plan", PLAN_NAME, "--ignore-not-found"]);
    }
    await ctx.k0s.kubectlApply(
      ["apply", "--server-side", "-f", "-"],
      JSON.stringify(autopilotPlan(plan), null, 2),
      `apply --server-side -f - (autopilot Plan "${PLAN_NAME}": k0s ${version} on ${plan.controllers.length} controller(s) and ${plan.workers.length} worker(s), binaries ${
        Object.values(plan.platforms).map((p) => p.url).join(", ")
      })`,
    );
  }
  if (ctx.host.dryRun) return;
  await waitUntil({
    label: `the autopilot Plan "${PLAN_NAME}"`,
    // Autopilot updates one controller at a time: each node gets the Kubernetes wait.
    timeoutMs: ctx.options.kubernetesTimeoutMs * nodes.length,
    intervalMs: ctx.options.pollIntervalMs,
    signal: ctx.signal,
    output: ctx.output,
    hint: `see "k0s kubectl get plan ${PLAN_NAME} -o yaml"; raise the limit with --timeout`,
  }, async (): Promise<Probe> => {
    const status = await currentPlan(ctx);
    if (!status) return { ready: false, detail: "the Plan is not listed" };
    if (planFailed(status)) {
      throw new UserError(
        `${describePlanFailure(status)}; fix the cause and rerun: the Plan is replaced`,
      );
    }
    const done = status.nodes.filter((n) => n.state === "SignalCompleted").length;
    return {
      ready: status.state === "Completed",
      detail: `state ${status.state || "(not taken in yet)"}, ${done} of ${
        status.nodes.length || nodes.length
      } node(s) done`,
      items: { done, total: status.nodes.length || nodes.length },
    };
  });
}

function record(ctx: InstallContext, a: Assessment, nodes: ClusterNode[]): void {
  ctx.facts.k0sUpgrade = { ...a.report, nodes: nodeLines(nodes) };
  for (const n of ctx.facts.k0sUpgrade.nodes) log.info(`Node ${n.name}: k0s ${n.version}`);
}

/** The k0s upgrade phase. */
export const k0sUpgradePhase: Phase = {
  id: "k0s-upgrade",
  title: "Upgrade k0s on every node",
  async shouldRun(ctx) {
    const a = await assess(ctx);
    if (!a.pending) {
      log.info(`k0s ${a.target.raw} runs on every node`);
      ctx.facts.k0sUpgrade = a.report;
    }
    return a.pending;
  },
  async run(ctx) {
    let a = await assess(ctx);
    // What is known before the change (all a dry run reports); replaced after the wait.
    ctx.facts.k0sUpgrade = a.report;
    if (ctx.options.airgap) await requireImages(ctx, a.target);
    if (!a.nodes) {
      // k0s is down here (an upgrade stopped before its restart): start it to reach the API.
      await startInstalled(ctx);
      if (ctx.host.dryRun) return;
      await waitUntil({
        label: "the Kubernetes API",
        timeoutMs: ctx.options.kubernetesTimeoutMs,
        intervalMs: ctx.options.pollIntervalMs,
        signal: ctx.signal,
        output: ctx.output,
        hint: 'see "journalctl -u k0scontroller"; raise the limit with --timeout',
      }, async () => ({
        ready: await ctx.k0s.status() !== null && await clusterNodes(ctx.kubectl) !== null,
        detail: "k0s started, the API does not list the nodes yet",
      }));
      a = await assess(ctx);
      if (!a.nodes) throw new UserError('k0s does not run after "k0s start"');
    }
    const nodes = a.nodes;
    if (nodes.length <= 1) {
      log.info(`Upgrading the single node from k0s ${a.report.from} to ${a.target.raw}`);
      await swapBinary(ctx, a.target);
      if (ctx.host.dryRun) return;
      record(ctx, a, await waitNodesAt(ctx, a.target, ctx.options.kubernetesTimeoutMs, true));
      return;
    }
    log.info(
      `Upgrading ${nodes.length} nodes from k0s ${a.report.from} to ${a.target.raw} with autopilot`,
    );
    await runPlan(ctx, a, nodes);
    if (ctx.host.dryRun) return;
    record(ctx, a, await waitNodesAt(ctx, a.target, ctx.options.kubernetesTimeoutMs, false));
  },
  // No dryRun(): under --dry-run run() goes through the dry-run mutator (the stop, swap, start,
  // storage write or Plan apply become the plan) and skips its waits.
};

/** Lines of the report for {@link K0sUpgradeReport} (the lead's report phase prints them). */
export function formatK0sUpgrade(report: K0sUpgradeReport): string[] {
  const head = report.change === "same"
    ? `k0s ${report.to} already runs on every node`
    : `k0s ${report.from} → ${report.to} (${
      report.method === "swap" ? "binary swap and restart" : "autopilot Plan"
    })`;
  return [head, ...report.nodes.map((n) => `  ${n.name}: ${n.version}`)];
}

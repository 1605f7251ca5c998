/**
 * `install`: builds the context every phase runs with, runs the phases
 * (skipping what is done, planning under dry-run) and returns the summary.
 */
import type { Config } from "../config/schema.ts";
import { formatPlan, HostMutator } from "../host/mutator.ts";
import { HOST } from "../host/paths.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { Kubectl } from "../kube/kubectl.ts";
import type { OutputFormat } from "../log/output.ts";
import type { Runner } from "../process/runner.ts";
import type { InstallContext, InstallOptions, Phase, PreflightFinding } from "./phase.ts";
import { checkInputFiles } from "./options.ts";
import { INSTALL_PHASES } from "./phases.ts";
import { k0sSource } from "./phases/k0s_binary.ts";
import { formatPreflightFindings } from "./phases/preflight.ts";
import { type UiAccess, uiAccess } from "./phases/k0rdent_ui.ts";
import { type PhaseResult, runPhases } from "./run_phases.ts";
import { type InstallResolution, resolveInstall } from "./resolve.ts";
import { log } from "../log/logger.ts";
import { loadState, lockHost } from "./state.ts";
import { markVersionInUse } from "./version_in_use.ts";

/** What `install` needs from the CLI. */
export interface InstallRequest {
  config: Config;
  options: InstallOptions;
  runner: Runner;
  dryRun: boolean;
  output: OutputFormat;
  signal: AbortSignal;
  /** The phases to run; default {@link INSTALL_PHASES}. */
  phases?: readonly Phase[];
  /** Include the UI password in the summary. */
  showPassword?: boolean;
  /**
   * The host mutator (the one resolver of host paths) the lock and the phases share; default
   * {@link hostMutatorFor} makes one on `K0RDENTD_ROOT` with `runner` and `dryRun`.
   */
  host?: HostMutator;
}

/** The request's host mutator: `request.host`, else a new one on `K0RDENTD_ROOT`. */
export function hostMutatorFor(request: InstallRequest): HostMutator {
  return request.host ?? new HostMutator(request.runner, request.dryRun);
}

/** What the user needs after an install. */
export interface InstallSummary {
  dryRun: boolean;
  airgap: boolean;
  k0sVersion: string | null;
  k0rdentVersion: string;
  /** What install decided that the configuration left open (registry address, CA, versions). */
  resolved: string[];
  kubeconfig: string;
  /** Where the k0rdent UI answers, when exposed. */
  ui: UiAccess | null;
  phases: PhaseResult[];
  /** Host changes made (or planned under dry-run). */
  changes: string[];
  /** Dry run: the preflight checks that failed (the install would stop there); else empty. */
  preflightFindings: PreflightFinding[];
  nextSteps: string[];
}

/** Builds the phase context. */
export async function installContext(request: InstallRequest): Promise<InstallContext> {
  const host = hostMutatorFor(request);
  const k0s = new K0sCli({
    runner: request.runner,
    host,
    timeoutMs: request.options.commandTimeoutMs,
    signal: request.signal,
  });
  return {
    config: request.config,
    options: request.options,
    host,
    runner: request.runner,
    k0s,
    kubectl: new Kubectl(k0s),
    output: request.output,
    signal: request.signal,
    state: await loadState(host),
    facts: {},
  };
}

/**
 * Runs the install and returns its summary (holding the host's install lock). The registry
 * address, its CA and the k0rdent version are resolved first ({@link resolveInstall}).
 */
export async function install(request: InstallRequest): Promise<InstallSummary> {
  return await withResolvedRequest(request, installLocked);
}

/**
 * Resolves `request` ({@link resolveInstall}: registry address, CA, k0rdent version; `check`
 * may refuse the resolution), logs the decisions, checks the input files, then runs `work`
 * holding the host's install lock (`install` and `upgrade` both start this way).
 */
export async function withResolvedRequest<T>(
  request: InstallRequest,
  work: (resolved: InstallRequest, resolution: InstallResolution) => Promise<T>,
  check: (resolution: InstallResolution) => void = () => {},
): Promise<T> {
  const resolution = await resolveInstall(request.config, { ...request.options, ...request });
  check(resolution);
  for (const warning of resolution.warnings) log.warn(warning);
  for (const note of resolution.notes) log.info(`Using ${note}`);
  const resolved = { ...request, config: resolution.config, host: hostMutatorFor(request) };
  await checkInputFiles(resolved.options, resolved.config);
  const release = await lockHost(resolved.host);
  try {
    return await work(resolved, resolution);
  } finally {
    await release();
  }
}

async function installLocked(
  request: InstallRequest,
  resolution: InstallResolution,
): Promise<InstallSummary> {
  const ctx = await installContext(request);
  ctx.facts.k0rdentVersionSource = resolution.k0rdentVersionSource;
  const phases = await runPhases(
    request.phases ?? INSTALL_PHASES,
    ctx,
    'Fix the cause and run "k0rdentd install" again with the same flags: finished phases are skipped',
  );
  if (request.options.airgap && !request.dryRun) await markVersionInUse(request.config);
  const k0sVersion = await summaryK0sVersion(ctx, request.dryRun);
  const { releaseName, namespace } = request.config.k0rdent.helm;
  const ui = request.dryRun
    ? null
    : await uiAccess(ctx.kubectl, releaseName, namespace, request.showPassword === true);
  return {
    dryRun: request.dryRun,
    airgap: request.options.airgap,
    k0sVersion,
    k0rdentVersion: request.config.k0rdent.version,
    resolved: resolution.notes,
    kubeconfig: HOST.k0sAdminKubeconfig,
    ui,
    phases,
    changes: ctx.host.changes,
    preflightFindings: ctx.facts.preflightFindings ?? [],
    nextSteps: [
      `export KUBECONFIG=${HOST.k0sAdminKubeconfig}`,
      "k0s kubectl get management kcm",
      "k0rdentd status",
    ],
  };
}

/**
 * The k0s version of the summary: the installed one, or under dry run the one the k0s-binary
 * phase would install (nothing is installed yet; its source says which).
 */
async function summaryK0sVersion(ctx: InstallContext, dryRun: boolean): Promise<string | null> {
  if (dryRun) return await k0sSource(ctx).then((s) => s.version, () => null);
  return await ctx.k0s.version().catch(() => null);
}

/** The summary as text. */
export function formatSummary(summary: InstallSummary): string {
  const done = summary.phases.filter((p) => p.status === "done").length;
  const skipped = summary.phases.filter((p) => p.status === "skipped").length;
  const using = summary.resolved.map((note) => `Using ${note}`);
  if (summary.dryRun) {
    return [
      ...using,
      formatPlan(summary.changes),
      ...formatPreflightFindings(summary.preflightFindings),
    ]
      .join("\n");
  }
  return [
    `k0s ${summary.k0sVersion ?? "?"} and k0rdent ${summary.k0rdentVersion} are installed${
      summary.airgap ? " (air-gapped)" : ""
    } (${done} phase(s) run, ${skipped} already done)`,
    `Kubeconfig: ${summary.kubeconfig}`,
    ...formatUi(summary.ui),
    "Next steps:",
    ...summary.nextSteps.map((s) => `  ${s}`),
  ].join("\n");
}

/** Lines about the UI: URLs, user, and the password only when it was asked for. */
export function formatUi(ui: UiAccess | null): string[] {
  if (!ui) return [];
  return [
    `k0rdent UI: ${ui.urls.join("  ") || "(no node address known)"}`,
    `  user ${ui.user}, password ${
      ui.password ?? "not shown (use --show-password, or read BASIC_AUTH_PASSWORD of the UI)"
    }`,
  ];
}

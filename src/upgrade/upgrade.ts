/**
 * `upgrade`: resolves the target like `install` (the new bundle's k0rdent version, or
 * `--k0rdent-version`), takes the host's install lock, runs the upgrade phases (skipping what is
 * done, planning under dry-run) and returns the summary. The sequence: docs/upgrade.md.
 */
import { formatPlan } from "../host/mutator.ts";
import { installContext, type InstallRequest, withResolvedRequest } from "../install/install.ts";
import type { K0sUpgradeReport } from "../install/phase.ts";
import { type PhaseResult, runPhases } from "../install/run_phases.ts";
import { UsageError } from "../errors.ts";
import { UPGRADE_PHASES } from "./phases.ts";
import { plannedName } from "./phases/k0rdent_release.ts";
import { formatK0sUpgrade } from "./phases/k0s_upgrade.ts";

/** What the user needs after an upgrade. */
export interface UpgradeSummary {
  dryRun: boolean;
  airgap: boolean;
  /** k0rdent before the upgrade: its version and Release ("" when unknown). */
  from: { version: string; release: string };
  /** k0rdent after the upgrade (or the plan's target). */
  to: { version: string; release: string };
  k0sVersion: string | null;
  /** What the k0s phase found and did: versions, swap or autopilot, each node's version. */
  k0s: K0sUpgradeReport | null;
  resolved: string[];
  phases: PhaseResult[];
  /** Host and cluster changes made (or planned under dry-run). */
  changes: string[];
}

/** Runs the upgrade and returns its summary (holding the host's install lock). */
export async function upgrade(request: InstallRequest): Promise<UpgradeSummary> {
  return await withResolvedRequest(request, async (resolved, resolution) => {
    const ctx = await installContext(resolved);
    ctx.facts.k0rdentVersionSource = resolution.k0rdentVersionSource;
    const phases = await runPhases(
      request.phases ?? UPGRADE_PHASES,
      ctx,
      'Fix the cause and run "k0rdentd upgrade" again with the same flags: finished phases are skipped',
    );
    return {
      dryRun: request.dryRun,
      airgap: request.options.airgap,
      from: ctx.facts.k0rdentInstalled ?? { version: "", release: "" },
      to: {
        version: resolution.config.k0rdent.version,
        release: plannedName(ctx),
      },
      k0sVersion: await ctx.k0s.version().catch(() => null),
      k0s: ctx.facts.k0sUpgrade ?? null,
      resolved: resolution.notes,
      phases,
      changes: ctx.host.changes,
    };
  }, (resolution) => {
    if (resolution.k0rdentVersionSource === "default") {
      throw new UsageError(
        "Name the k0rdent version to upgrade to: --k0rdent-version (online), or --airgap-bundle-path with the new bundle",
      );
    }
  });
}

/** The summary as text. */
export function formatUpgradeSummary(s: UpgradeSummary): string {
  const using = s.resolved.map((note) => `Using ${note}`);
  if (s.dryRun) return [...using, formatPlan(s.changes)].join("\n");
  const done = s.phases.filter((p) => p.status === "done").length;
  const from = s.from.version || "?";
  const head = s.changes.length === 0
    ? `k0rdent ${s.to.version} (Release ${s.to.release}) already runs: nothing to do`
    : `k0rdent upgraded from ${from} to ${s.to.version} (Release ${s.to.release}) (${done} phase(s) run)`;
  return [head, ...k0sLines(s), "Next steps:", "  k0rdentd status"].join("\n");
}

/** What happened to k0s, with each node's version after the upgrade. */
function k0sLines(s: UpgradeSummary): string[] {
  return s.k0s ? formatK0sUpgrade(s.k0s) : [`k0s ${s.k0sVersion ?? "?"}`];
}

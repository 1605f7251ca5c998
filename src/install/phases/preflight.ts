/**
 * Phase: run the preflight checks; named failures listed in
 * `--ignore-preflight-errors` (or `all`) become warnings. Under dry run a failure does not stop
 * the plan: it is recorded as a finding that the summary lists (and the command exits 1).
 */
import { errorMessage, UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import type { InstallContext, Phase, PreflightFinding } from "../phase.ts";
import { PREFLIGHT_CHECKS, type PreflightCheck } from "../preflight.ts";

/** A preflight phase running `checks` (join runs a subset). */
export function preflightPhaseWith(checks: readonly PreflightCheck[]): Phase {
  return {
    id: "preflight",
    title: "Check the host",
    run: (ctx) => runChecks(checks, ctx),
  };
}

/** The preflight phase (always runs; it changes nothing). */
export const preflightPhase: Phase = preflightPhaseWith(PREFLIGHT_CHECKS);

async function runChecks(checks: readonly PreflightCheck[], ctx: InstallContext): Promise<void> {
  const ignore = ctx.options.ignorePreflight;
  const failures: PreflightFinding[] = [];
  for (const check of checks) {
    if (check.airgapOnly && !ctx.options.airgap) continue;
    let problem: string | null;
    try {
      problem = await check.run(ctx);
    } catch (err) {
      problem = errorMessage(err);
    }
    if (problem === null) {
      log.debug(`Preflight ${check.name}: ok`);
    } else if (ignore === "all" || ignore.has(check.name)) {
      log.warn(`Preflight ${check.name} (ignored): ${problem}`);
    } else {
      log.error(`Preflight ${check.name}: ${problem}`);
      failures.push({ check: check.name, problem });
    }
  }
  if (failures.length === 0) return;
  if (ctx.host.dryRun) {
    ctx.facts.preflightFindings = failures;
    log.warn(`Dry run: planning on despite ${failures.length} failed preflight check(s)`);
    return;
  }
  throw new UserError(
    `${failures.length} check(s) failed: ${failedNames(failures)} (${fixHint(failures)})`,
  );
}

function failedNames(findings: readonly PreflightFinding[]): string {
  return findings.map((f) => f.check).join(", ");
}

function fixHint(findings: readonly PreflightFinding[]): string {
  return `fix them, or pass --ignore-preflight-errors=${
    findings.map((f) => f.check).join(",")
  } to go on anyway`;
}

/**
 * The findings of a dry run's preflight as summary lines: a `Preflight findings: N` line, one line
 * per check and how to go on. Empty when every check passed.
 */
export function formatPreflightFindings(findings: readonly PreflightFinding[]): string[] {
  if (findings.length === 0) return [];
  return [
    `Preflight findings: ${findings.length} (the real run would stop at preflight: ${
      fixHint(findings)
    })`,
    ...findings.map((f) => `  ${f.check}: ${f.problem}`),
  ];
}

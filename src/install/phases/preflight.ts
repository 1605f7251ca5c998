/**
 * Phase: run the preflight checks; named failures listed in
 * `--ignore-preflight-errors` (or `all`) become warnings.
 */
import { errorMessage, UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import type { InstallContext, Phase } from "../phase.ts";
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
  const failures: string[] = [];
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
      failures.push(check.name);
    }
  }
  if (failures.length) {
    throw new UserError(
      `${failures.length} check(s) failed: ${
        failures.join(", ")
      } (fix them, or pass --ignore-preflight-errors=${failures.join(",")} to go on anyway)`,
    );
  }
}

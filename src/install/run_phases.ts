/**
 * Runs the install phases in order: skips those already done, shows the
 * plan under dry-run, and on failure cleans up the failed phase and reports
 * which phase failed, the tool's stderr tail and how to retry.
 */
import { CancelledError, errorMessage, ToolError, UserError } from "../errors.ts";
import { log } from "../log/logger.ts";
import type { InstallContext, Phase } from "./phase.ts";

/** What happened to one phase. */
export interface PhaseResult {
  id: string;
  title: string;
  status: "done" | "skipped" | "planned";
}

/** A phase failed; the message names it and says how to retry. */
export class PhaseError extends UserError {
  override name = "PhaseError";
  constructor(readonly phase: Phase, cause: unknown, retry: string) {
    super(
      `Phase "${phase.id}" (${phase.title}) failed: ${errorMessage(cause)}. ${retry}`,
      { cause },
    );
  }
}

function cancelled(err: unknown): boolean {
  return err instanceof CancelledError ||
    (err instanceof DOMException && err.name === "AbortError");
}

/** Runs `phases` in order; `retry` tells the user how to resume after a failure. */
export async function runPhases(
  phases: readonly Phase[],
  ctx: InstallContext,
  retry: string,
): Promise<PhaseResult[]> {
  const results: PhaseResult[] = [];
  for (const [i, phase] of phases.entries()) {
    if (ctx.signal.aborted) throw new CancelledError();
    const step = `[${i + 1}/${phases.length}] ${phase.title}`;
    try {
      if (phase.shouldRun && !await phase.shouldRun(ctx)) {
        log.info(`${step}: nothing to do`);
        results.push({ id: phase.id, title: phase.title, status: "skipped" });
        continue;
      }
      if (ctx.host.dryRun) {
        log.info(`${step}: planned`);
        if (phase.dryRun) { for (const line of phase.dryRun(ctx)) log.info(`Would ${line}`); }
        else await phase.run(ctx);
        results.push({ id: phase.id, title: phase.title, status: "planned" });
        continue;
      }
      log.info(step);
      await phase.run(ctx);
      results.push({ id: phase.id, title: phase.title, status: "done" });
    } catch (err) {
      if (cancelled(err)) throw err;
      // A tool killed because the user pressed Ctrl-C fails too: report the interruption.
      if (ctx.signal.aborted) throw new CancelledError(`Interrupted during "${phase.id}"`);
      if (err instanceof ToolError && err.stderrTail.trim()) {
        log.error(`${err.argv[0]} said:\n${err.stderrTail.trimEnd()}`);
      }
      if (phase.cleanUp && !ctx.host.dryRun) {
        await phase.cleanUp(ctx).catch((e) =>
          log.warn(`Clean-up of "${phase.id}": ${errorMessage(e)}`)
        );
      }
      throw new PhaseError(phase, err, retry);
    }
  }
  return results;
}

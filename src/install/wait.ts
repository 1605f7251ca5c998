/**
 * Polls a readiness check with a sleep between attempts (never a busy loop)
 * until it passes, the timeout expires or the run is cancelled, logging what
 * is still missing whenever it changes and a progress bar of ready parts.
 */
import { CancelledError, UserError } from "../errors.ts";
import { formatDuration, Progress, progressMode } from "../log/progress.ts";
import { log } from "../log/logger.ts";
import type { OutputFormat } from "../log/output.ts";

/** One look at the thing being waited for. */
export interface Probe {
  ready: boolean;
  /** What is still missing, for progress and the timeout message. */
  detail: string;
  /** Parts ready so far, e.g. components x/y. */
  items?: { done: number; total: number };
}

/** Options of {@link waitUntil}. */
export interface WaitOptions {
  /** What is waited for, e.g. "Kubernetes". */
  label: string;
  timeoutMs: number;
  intervalMs: number;
  signal: AbortSignal;
  output: OutputFormat;
  /** What to do about a timeout, appended to the message. */
  hint?: string;
}

/** Formats a limit: `5m00s`, or `300ms` below a second. */
export function formatTimeout(ms: number): string {
  return ms < 1000 ? `${ms}ms` : formatDuration(ms / 1000);
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError());
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Calls `probe` every `intervalMs` until it reports ready; throws a UserError on timeout. */
export async function waitUntil(options: WaitOptions, probe: () => Promise<Probe>): Promise<void> {
  const start = Date.now();
  let progress: Progress | undefined;
  let last: Probe = { ready: false, detail: "no answer yet" };
  let shown = "";
  while (true) {
    last = await probe();
    const elapsed = Date.now() - start;
    if (last.ready) {
      const message = `${options.label} is ready after ${formatDuration(elapsed / 1000)}`;
      if (progress) progress.done(message);
      else log.info(message);
      return;
    }
    if (last.detail !== shown) {
      shown = last.detail;
      log.info(`Waiting for ${options.label}: ${last.detail}`);
    }
    if (last.items && last.items.total > 0) {
      progress ??= new Progress({
        label: `Waiting for ${options.label}`,
        total: last.items.total,
        unit: "items",
        mode: progressMode(options.output),
      });
      progress.setTotal(last.items.total);
      progress.set(last.items.done);
    }
    if (elapsed + options.intervalMs > options.timeoutMs) break;
    await sleep(options.intervalMs, options.signal);
  }
  progress?.done();
  throw new UserError(
    `Timed out after ${
      formatTimeout(options.timeoutMs)
    } waiting for ${options.label}: ${last.detail}${options.hint ? ` (${options.hint})` : ""}`,
  );
}

/**
 * Phase: wait until the `Management` object `kcm` reports `Ready`, showing
 * components ready x/y (default timeout 15 minutes).
 */
import type { InstallContext, Phase } from "../phase.ts";
import { formatTimeout, type Probe, waitUntil } from "../wait.ts";

async function probe(ctx: InstallContext): Promise<Probe> {
  const mgmt = await ctx.kubectl.management();
  if (!mgmt) return { ready: false, detail: 'the Management object "kcm" does not exist yet' };
  const items = { done: mgmt.componentsReady, total: mgmt.componentsTotal };
  if (mgmt.ready) return { ready: true, detail: "", items };
  const pending = mgmt.pending.length ? `; waiting for ${mgmt.pending.join(", ")}` : "";
  return {
    ready: false,
    detail:
      `Management "kcm" not Ready (${mgmt.componentsReady}/${mgmt.componentsTotal} components${pending})${
        mgmt.message ? `: ${mgmt.message}` : ""
      }`,
    items,
  };
}

/** The wait-for-k0rdent phase. */
export const waitK0rdentPhase: Phase = {
  id: "wait-k0rdent",
  title: "Wait for k0rdent to be ready",
  async shouldRun(ctx) {
    return !(await probe(ctx)).ready;
  },
  async run(ctx) {
    await waitUntil({
      label: "k0rdent",
      timeoutMs: ctx.options.k0rdentTimeoutMs,
      intervalMs: ctx.options.pollIntervalMs,
      signal: ctx.signal,
      output: ctx.output,
      hint:
        `see "k0s kubectl -n ${ctx.config.k0rdent.helm.namespace} get pods"; raise the limit with --k0rdent-timeout`,
    }, () => probe(ctx));
  },
  dryRun(ctx) {
    return [
      `wait up to ${formatTimeout(ctx.options.k0rdentTimeoutMs)} for Management "kcm" to be Ready`,
    ];
  },
};

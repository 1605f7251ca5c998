/**
 * Phase: wait until the k0s API probe succeeds and every node is `Ready`,
 * polling with a sleep (default timeout 5 minutes).
 */
import { errorMessage } from "../../errors.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { formatTimeout, type Probe, waitUntil } from "../wait.ts";

async function probe(ctx: InstallContext): Promise<Probe> {
  let status;
  try {
    status = await ctx.k0s.status();
  } catch (err) {
    return { ready: false, detail: `k0s status: ${errorMessage(err)}` };
  }
  if (!status) return { ready: false, detail: "k0s is not running yet" };
  if (!status.apiProbeOk) {
    return {
      ready: false,
      detail: `Kube-api probing not successful${
        status.apiProbeError ? ` (${status.apiProbeError})` : ""
      }`,
    };
  }
  const nodes = await ctx.kubectl.nodes();
  if (!nodes) return { ready: false, detail: "the API did not list the nodes" };
  if (nodes.length === 0) return { ready: false, detail: "no node registered yet" };
  const ready = nodes.filter((n) => n.ready).length;
  const items = { done: ready, total: nodes.length };
  if (ready < nodes.length) {
    const names = nodes.filter((n) => !n.ready).map((n) => n.name).join(", ");
    return { ready: false, detail: `node(s) not Ready: ${names}`, items };
  }
  return { ready: true, detail: "", items };
}

/** The wait-for-Kubernetes phase. */
export const waitKubernetesPhase: Phase = {
  id: "wait-kubernetes",
  title: "Wait for Kubernetes to be ready",
  async shouldRun(ctx) {
    return !(await probe(ctx)).ready;
  },
  async run(ctx) {
    await waitUntil({
      label: "Kubernetes",
      timeoutMs: ctx.options.kubernetesTimeoutMs,
      intervalMs: ctx.options.pollIntervalMs,
      signal: ctx.signal,
      output: ctx.output,
      hint: 'see "journalctl -u k0scontroller"; raise the limit with --timeout',
    }, () => probe(ctx));
  },
  dryRun(ctx) {
    return [
      `wait up to ${
        formatTimeout(ctx.options.kubernetesTimeoutMs)
      } for the k0s API probe and every node Ready`,
    ];
  },
};

/**
 * Join phase: wait until k0s runs and this node is `Ready`. The node reads its own Node object
 * with the kubelet's credentials (`/var/lib/k0s/kubelet.conf`), which exist on workers and on
 * controllers with workloads alike, so no admin kubeconfig is needed.
 */
import { HOST } from "../../host/paths.ts";
import type { InstallContext, Phase } from "../../install/phase.ts";
import { type Probe, waitUntil } from "../../install/wait.ts";
import { parseNodes } from "../../kube/kubectl.ts";
import { formatDuration } from "../../log/progress.ts";
import type { JoinRole } from "../token.ts";

/** The Node name k0s registers: the host name in lower case. */
export function nodeName(): string {
  return Deno.hostname().toLowerCase();
}

async function probe(ctx: InstallContext, name: string): Promise<Probe> {
  if (!await ctx.k0s.status()) return { ready: false, detail: "k0s is not running yet" };
  const result = await ctx.k0s.kubectl([
    "--kubeconfig",
    ctx.host.mapPath(HOST.kubeletKubeconfig),
    "get",
    "nodes",
    "-o",
    "json",
  ]);
  if (result.code !== 0 || result.timedOut) {
    return { ready: false, detail: `node ${name} is not registered yet` };
  }
  let ready = false;
  try {
    ready = parseNodes(result.stdout).some((n) => n.name === name && n.ready);
  } catch {
    return { ready: false, detail: "unreadable node list" };
  }
  return ready ? { ready, detail: "" } : { ready, detail: `node ${name} is not Ready` };
}

/** The phase waiting for this node to be Ready after joining as `role`. */
export function waitJoinedPhase(role: JoinRole): Phase {
  const name = nodeName();
  return {
    id: "wait-joined",
    title: `Wait for node ${name} to be Ready`,
    async shouldRun(ctx) {
      return !(await probe(ctx, name)).ready;
    },
    async run(ctx) {
      await waitUntil({
        label: `node ${name}`,
        timeoutMs: ctx.options.kubernetesTimeoutMs,
        intervalMs: ctx.options.pollIntervalMs,
        signal: ctx.signal,
        output: ctx.output,
        hint:
          `see "journalctl -u k0s${role}" here and "k0s kubectl get nodes" on a controller; raise the limit with --timeout`,
      }, () => probe(ctx, name));
    },
    dryRun(ctx) {
      return [
        `wait up to ${
          formatDuration(ctx.options.kubernetesTimeoutMs / 1000)
        } for node ${name} Ready`,
      ];
    },
  };
}

/**
 * Phase: `k0s install controller --enable-worker --no-taints -c /etc/k0s/k0s.yaml`
 * (once) and `k0s start`; starts a stopped k0s, restarts a running one only
 * when its config changed (`k0sRestartPending`), and leaves a running one alone.
 */
import { HOST } from "../../host/paths.ts";
import type { Phase } from "../phase.ts";
import { saveState } from "../state.ts";

/** The k0s service phase. */
export const k0sServicePhase: Phase = {
  id: "k0s-service",
  title: "Install and start the k0s controller+worker service",
  async shouldRun(ctx) {
    if (!await ctx.k0s.serviceInstalled()) return true;
    if (ctx.state.k0sRestartPending) return true;
    return await ctx.k0s.status() === null;
  },
  async run(ctx) {
    if (!await ctx.k0s.serviceInstalled()) {
      await ctx.k0s.install({
        role: "controller",
        enableWorker: true,
        noTaints: true,
        configPath: ctx.host.mapPath(HOST.k0sConfig),
      });
    } else if (ctx.state.k0sRestartPending && await ctx.k0s.status()) {
      await ctx.k0s.stop();
    }
    await ctx.k0s.start();
    if (ctx.state.k0sRestartPending) {
      await saveState(ctx.host, ctx.state, { k0sRestartPending: false });
    }
  },
};

/**
 * Phase: write `/etc/k0s/k0s.yaml` from the generator (`k0s/cluster_config.ts`);
 * when it changes under an installed k0s, the service phase restarts k0s
 * (`k0sRestartPending` in the state, so a failed restart is retried).
 */
import { clusterEndpoint, repositoryBase } from "../../airgap_registry/endpoint.ts";
import { HOST } from "../../host/paths.ts";
import { clusterConfigOptions, renderClusterConfig } from "../../k0s/cluster_config.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";

/** k0s.yaml may carry a kine data source with a password: root only. */
export const K0S_CONFIG_MODE = 0o600;

/** The text of `/etc/k0s/k0s.yaml` for this install (also what the k0s-images preflight lists with). */
export function k0sYaml(ctx: InstallContext): string {
  const images = ctx.options.airgap ? repositoryBase(clusterEndpoint(ctx.config)) : undefined;
  return renderClusterConfig(clusterConfigOptions(ctx.config, images));
}

/** The k0s config phase. */
export const k0sConfigPhase: Phase = {
  id: "k0s-config",
  title: `Write the k0s config ${HOST.k0sConfig}`,
  async shouldRun(ctx) {
    return !await ctx.host.matches(HOST.k0sConfig, k0sYaml(ctx), K0S_CONFIG_MODE);
  },
  async run(ctx) {
    const outcome = await ctx.host.writeFile(HOST.k0sConfig, k0sYaml(ctx), {
      mode: K0S_CONFIG_MODE,
    });
    // A k0s running on the old config restarts in the service phase (remembered across runs).
    const restart = outcome === "updated" && await ctx.k0s.serviceInstalled();
    await saveState(ctx.host, ctx.state, {
      files: [...ctx.state.files ?? [], HOST.k0sConfig],
      ...(restart ? { k0sRestartPending: true } : {}),
    });
  },
};

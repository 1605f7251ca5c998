/**
 * Upgrade phase: apply the target version's `Release` object (from kcm's `kcm-templates` chart:
 * the local registry in an air gap, the chart's repository online) and wait until kcm reports it
 * `status.ready`, i.e. its templates exist and are valid (kcm internal/controller/
 * release_controller.go). kcm's sequence: hack/dev-upgrade.bash `kubectl apply` then
 * `kubectl wait release <name> --for=jsonpath={.status.ready}=true`.
 */
import { registryEndpoint } from "../../airgap_registry/endpoint.ts";
import { airgapChartRepository } from "../../k0rdent/helm_command.ts";
import type { Config } from "../../config/schema.ts";
import { UserError } from "../../errors.ts";
import type { InstallContext, Phase } from "../../install/phase.ts";
import { formatTimeout, waitUntil } from "../../install/wait.ts";
import {
  fetchReleaseManifest,
  type ReleaseManifest,
  releaseNameFromVersion,
  type TemplatesChartSource,
} from "../../k0rdent/release_manifest.ts";

/** The chart that ships the Release objects (k0rdent/kcm templates/provider/kcm-templates). */
export const TEMPLATES_CHART = "kcm-templates";

/**
 * Where the kcm-templates chart of `config` is: beside the k0rdent chart in the local registry
 * (`<prefix>/charts/kcm-templates`, air gap) or beside `k0rdent.helm.chart` online
 * (`oci://ghcr.io/k0rdent/kcm/charts/kcm` -> `ghcr.io`, `k0rdent/kcm/charts/kcm-templates`).
 */
export function templatesChartSource(config: Config, airgap: boolean): TemplatesChartSource {
  if (airgap) {
    const registry = config.airgap.registry;
    return {
      host: registryEndpoint(config).address,
      repository: airgapChartRepository(registryEndpoint(config)).replace(
        /[^/]+$/,
        TEMPLATES_CHART,
      ),
      plainHttp: registry.insecure,
      caFile: registry.caFile,
      username: registry.username,
      password: registry.password,
    };
  }
  const chart = config.k0rdent.helm.chart;
  const m = /^oci:\/\/([^/]+)\/(.+)\/[^/]+$/.exec(chart);
  if (!m) {
    throw new UserError(
      `Cannot find the ${TEMPLATES_CHART} chart beside k0rdent.helm.chart "${chart}": upgrade needs an oci:// chart reference`,
    );
  }
  return { host: m[1], repository: `${m[2]}/${TEMPLATES_CHART}` };
}

/** The target Release, read once per run. */
export async function targetRelease(ctx: InstallContext): Promise<ReleaseManifest> {
  ctx.facts.targetRelease ||= await fetchReleaseManifest(
    templatesChartSource(ctx.config, ctx.options.airgap),
    ctx.config.k0rdent.version,
  );
  return ctx.facts.targetRelease;
}

/**
 * The target Release's name for a phase's idempotency check, or null under dry run when it
 * cannot be read yet (the bundle that brings its chart is only planned to be loaded): the phase
 * is then planned.
 */
export async function targetName(ctx: InstallContext): Promise<string | null> {
  if (!ctx.host.dryRun) return (await targetRelease(ctx)).name;
  if (ctx.facts.targetRelease === null) return null;
  try {
    return (await targetRelease(ctx)).name;
  } catch {
    ctx.facts.targetRelease = null;
    return null;
  }
}

/** The target's name for the plan (kcm's naming while the chart cannot be read yet). */
export function plannedName(ctx: InstallContext): string {
  return ctx.facts.targetRelease?.name ?? releaseNameFromVersion(ctx.config.k0rdent.version);
}

/** The apply-Release phase. */
export const k0rdentReleasePhase: Phase = {
  id: "k0rdent-release",
  title: "Apply the k0rdent Release of the new version",
  async shouldRun(ctx) {
    const name = await targetName(ctx);
    if (name === null) return true;
    if ((await ctx.kubectl.management())?.release === name) return false;
    return !(await ctx.kubectl.release(name))?.ready;
  },
  async run(ctx) {
    const target = await targetRelease(ctx);
    if (!await ctx.kubectl.release(target.name)) {
      await ctx.k0s.kubectlApply(
        ["apply", "--server-side", "-f", "-"],
        target.yaml,
        `apply --server-side -f - (Release ${target.name})`,
      );
    }
    await waitUntil({
      label: `Release "${target.name}"`,
      timeoutMs: ctx.options.k0rdentTimeoutMs,
      intervalMs: ctx.options.pollIntervalMs,
      signal: ctx.signal,
      output: ctx.output,
      hint:
        `see "k0s kubectl get release ${target.name} -o yaml" and the HelmRelease ${target.name}-tpl in ${ctx.config.k0rdent.helm.namespace}; raise the limit with --k0rdent-timeout`,
    }, async () => {
      const release = await ctx.kubectl.release(target.name);
      if (release?.ready) return { ready: true, detail: "" };
      return {
        ready: false,
        detail: release
          ? `not ready${release.problems.length ? ` (${release.problems.join("; ")})` : ""}`
          : "not found",
      };
    });
  },
  dryRun(ctx) {
    return [
      `apply the Release ${
        plannedName(ctx)
      } (from kcm-templates ${ctx.config.k0rdent.version}) with kubectl apply --server-side`,
      `wait up to ${formatTimeout(ctx.options.k0rdentTimeoutMs)} for it to be ready`,
    ];
  },
};

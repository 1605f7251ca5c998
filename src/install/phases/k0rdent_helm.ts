/**
 * Phase: install or upgrade k0rdent with `helm upgrade --install`, values in
 * a 0600 file (generator: `k0rdent/helm_values.ts`, argv:
 * `k0rdent/helm_command.ts`). Skipped when the release is deployed with the
 * same chart, version and values as last time; changed values upgrade it.
 */
import { readRegistryCa } from "../../airgap/registry_ca.ts";
import { fileMatches } from "../../host/mutator.ts";
import { HOST, hostPath } from "../../host/paths.ts";
import { helmUpgradeInstallArgs } from "../../k0rdent/helm_command.ts";
import {
  helmValuesOptions,
  registryCaSecretManifest,
  renderHelmValues,
} from "../../k0rdent/helm_values.ts";
import { helmFor } from "../helm_binary.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { digestOf, saveState } from "../state.ts";

const VALUES_MODE = 0o600;

interface HelmPlan {
  values: string;
  args: string[];
  /** The registry CA to store as a Secret first (TLS air gap). */
  caPem?: string;
  digest: string;
}

async function helmPlan(ctx: InstallContext): Promise<HelmPlan> {
  const { config, options } = ctx;
  const valuesOptions = helmValuesOptions(config, options.airgap);
  const values = renderHelmValues(valuesOptions);
  const registry = config.airgap.registry;
  const tls = options.airgap && !registry.insecure && registry.caFile !== "";
  const caPem = tls ? await readRegistryCa(config) : undefined;
  const args = helmUpgradeInstallArgs({
    releaseName: config.k0rdent.helm.releaseName,
    chart: valuesOptions.chart,
    version: config.k0rdent.version,
    namespace: config.k0rdent.helm.namespace,
    valuesFile: hostPath(HOST.helmValues),
    plainHttp: options.airgap && registry.insecure,
    caFile: tls ? registry.caFile : undefined,
    kubeconfig: hostPath(HOST.k0sAdminKubeconfig),
  });
  return { values, args, caPem, digest: digestOf([...args, values, caPem ?? ""].join("\n")) };
}

/** The k0rdent helm phase. */
export const k0rdentHelmPhase: Phase = {
  id: "k0rdent-helm",
  title: "Install k0rdent with helm",
  async shouldRun(ctx) {
    const plan = await helmPlan(ctx);
    if (ctx.state.helmDigest !== plan.digest) return true;
    if (!await fileMatches(HOST.helmValues, plan.values, VALUES_MODE)) return true;
    const { releaseName, namespace } = ctx.config.k0rdent.helm;
    const release = await (await helmFor(ctx)).release(releaseName, namespace).catch(() => null);
    return release?.status !== "deployed";
  },
  async run(ctx) {
    const plan = await helmPlan(ctx);
    const helm = await helmFor(ctx);
    if (plan.caPem) {
      await ctx.k0s.kubectlApply(
        ["apply", "--server-side", "-f", "-"],
        registryCaSecretManifest(ctx.config.k0rdent.helm.namespace, plan.caPem),
        "apply --server-side -f - (registry CA Secret)",
      );
    }
    await ctx.host.writeFile(HOST.helmValues, plan.values, { mode: VALUES_MODE, dirMode: 0o700 });
    await helm.change(plan.args);
    await saveState(ctx.host, ctx.state, { helmDigest: plan.digest, airgap: ctx.options.airgap });
  },
  async cleanUp(ctx) {
    // A first install that failed half-way leaves a release helm cannot upgrade: remove it.
    if (ctx.state.helmDigest) return;
    const { releaseName, namespace } = ctx.config.k0rdent.helm;
    const helm = await helmFor(ctx);
    const release = await helm.release(releaseName, namespace).catch(() => null);
    if (release && release.status !== "deployed") {
      await helm.change(["uninstall", releaseName, "-n", namespace]);
    }
  },
};

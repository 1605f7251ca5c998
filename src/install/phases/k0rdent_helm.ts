/**
 * Phase: install k0rdent with `helm upgrade --install`, values in a 0600 file (generator:
 * `k0rdent/helm_values.ts`, argv: `k0rdent/helm_command.ts`). Skipped when the release is
 * deployed with the same chart, version and values as last time. Once kcm created its
 * `Management` (after the first install) kcm owns the release through Flux, so changed values
 * are merge-patched into `Management.spec.core.kcm.config` instead (`k0rdent/management.ts`);
 * helm never upgrades the release again.
 */
import { readRegistryCa } from "../../airgap_registry/ca.ts";
import { HOST } from "../../host/paths.ts";
import { helmUpgradeInstallArgs } from "../../k0rdent/helm_command.ts";
import {
  helmValues,
  helmValuesOptions,
  type RegistrySecrets,
  registrySecretsManifest,
  renderHelmValues,
} from "../../k0rdent/helm_values.ts";
import { helmFor } from "../helm_binary.ts";
import { kcmConfigPatch, MANAGEMENT_NAME, patchManagement } from "../../k0rdent/management.ts";
import { log } from "../../log/logger.ts";
import { type RegistryLogin, withRegistryConfig } from "../../helm/registry_config.ts";
import { registryEndpoint } from "../../airgap_registry/endpoint.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";
import { hashText } from "../../hash/sha.ts";

const VALUES_MODE = 0o600;

/** Stands for the temporary registry config in the plan and its digest. */
const REGISTRY_CONFIG_PLACEHOLDER = "<temporary registry config>";

interface HelmPlan {
  values: string;
  /** The values as an object: what kcm keeps in `Management.spec.core.kcm.config`. */
  valuesObject: Record<string, unknown>;
  /** The helm argv, with the path of the registry config holding the credentials, if any. */
  args(registryConfig?: string): string[];
  /** The registry CA and credentials to store as Secrets first (air gap). */
  secrets: RegistrySecrets;
  /** Credentials for helm's chart pull (air gap, a registry that needs them). */
  login?: RegistryLogin;
  digest: string;
}

async function helmPlan(ctx: InstallContext): Promise<HelmPlan> {
  const { config, options } = ctx;
  const valuesOptions = helmValuesOptions(config, options.airgap);
  const values = renderHelmValues(valuesOptions);
  const registry = config.airgap.registry;
  const tls = options.airgap && !registry.insecure && registry.caFile !== "";
  const caPem = tls ? await readRegistryCa(config) : undefined;
  const auth = options.airgap && registry.username
    ? { username: registry.username, password: registry.password }
    : undefined;
  const login = auth && { host: registryEndpoint(config).address, ...auth };
  const args = (registryConfig?: string) =>
    helmUpgradeInstallArgs({
      releaseName: config.k0rdent.helm.releaseName,
      chart: valuesOptions.chart,
      version: config.k0rdent.version,
      namespace: config.k0rdent.helm.namespace,
      valuesFile: ctx.host.mapPath(HOST.helmValues),
      plainHttp: options.airgap && registry.insecure,
      caFile: tls ? registry.caFile : undefined,
      kubeconfig: ctx.host.mapPath(HOST.k0sAdminKubeconfig),
      registryConfig,
    });
  const secrets = { ...(caPem ? { caPem } : {}), ...(auth ? { auth } : {}) };
  const planned = args(login && REGISTRY_CONFIG_PLACEHOLDER);
  // The digest covers the Secrets too, so a new CA or password is applied again.
  const digest = hashText([...planned, values, JSON.stringify(secrets)].join("\n"));
  return { values, valuesObject: helmValues(valuesOptions), args, secrets, login, digest };
}

/**
 * Hands kcm the values through its Management. A JSON merge patch (RFC 7386) keeps keys it does
 * not name, so keys the last config had and the new values lack are sent as null (removed).
 */
async function patchKcmConfig(
  ctx: InstallContext,
  management: unknown,
  values: Record<string, unknown>,
): Promise<void> {
  const current = (management as { spec?: { core?: { kcm?: { config?: unknown } } } }).spec?.core
    ?.kcm?.config;
  const installed = ctx.state.k0rdentVersion;
  // `upgrade` (which has read its target Release by now) moves the Release next; `install` not.
  const upgrading = ctx.facts.targetRelease !== undefined;
  if (!upgrading && installed && installed !== ctx.config.k0rdent.version) {
    log.warn(
      `k0rdent ${installed} runs: install only hands kcm the new values; run "k0rdentd upgrade" to move it to ${ctx.config.k0rdent.version}`,
    );
  }
  await patchManagement(
    ctx.k0s,
    kcmConfigPatch(mergePatchFor(current, values) as Record<string, unknown>),
    "helm values into spec.core.kcm.config",
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The JSON merge patch that turns `current` into `desired` (removed keys as null). */
export function mergePatchFor(current: unknown, desired: unknown): unknown {
  if (!isObject(current) || !isObject(desired)) return desired;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(current)) if (!(key in desired)) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) {
    patch[key] = key in current ? mergePatchFor(current[key], value) : value;
  }
  return patch;
}

/** The k0rdent helm phase. */
export const k0rdentHelmPhase: Phase = {
  id: "k0rdent-helm",
  title: "Install k0rdent with helm",
  async shouldRun(ctx) {
    const plan = await helmPlan(ctx);
    if (ctx.state.helmDigest !== plan.digest) return true;
    if (!await ctx.host.matches(HOST.helmValues, plan.values, VALUES_MODE)) return true;
    const { releaseName, namespace } = ctx.config.k0rdent.helm;
    const release = await (await helmFor(ctx)).release(releaseName, namespace).catch(() => null);
    return release?.status !== "deployed";
  },
  async run(ctx) {
    const plan = await helmPlan(ctx);
    // Before anything changes: a Management means kcm owns the release.
    const management = await ctx.kubectl.getJson(["management", MANAGEMENT_NAME]);
    if (plan.secrets.caPem || plan.secrets.auth) {
      await ctx.k0s.kubectlApply(
        ["apply", "--server-side", "-f", "-"],
        registrySecretsManifest(ctx.config.k0rdent.helm.namespace, plan.secrets),
        "apply --server-side -f - (registry Secrets)",
      );
    }
    await ctx.host.writeFile(HOST.helmValues, plan.values, { mode: VALUES_MODE, dirMode: 0o700 });
    if (management) {
      await patchKcmConfig(ctx, management, plan.valuesObject);
      await saveState(ctx.host, ctx.state, {
        helmDigest: plan.digest,
        airgap: ctx.options.airgap,
      });
      return;
    }
    const helm = await helmFor(ctx);
    if (!plan.login || ctx.host.dryRun) {
      await helm.change(plan.args(plan.login && REGISTRY_CONFIG_PLACEHOLDER));
    } else {
      await withRegistryConfig(plan.login, (path) => helm.change(plan.args(path)));
    }
    await saveState(ctx.host, ctx.state, {
      helmDigest: plan.digest,
      airgap: ctx.options.airgap,
      k0rdentVersion: ctx.config.k0rdent.version,
      registryPrefix: ctx.options.airgap ? ctx.config.airgap.registry.prefix : undefined,
    });
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

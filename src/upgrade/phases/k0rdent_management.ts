/**
 * Upgrade phases: move `Management.spec.release` to the target Release (kcm's validating webhook
 * refuses a Release that does not exist or is not ready: internal/webhook/management_webhook.go
 * validateRelease), then wait until `status.release` names it and the Management is Ready
 * (hack/dev-upgrade.bash: `kubectl wait management kcm --for=jsonpath={.status.release}=<name>`,
 * then `--for=condition=Ready=True`).
 */
import type { Phase } from "../../install/phase.ts";
import { formatTimeout, waitUntil } from "../../install/wait.ts";
import { patchManagement, releasePatch } from "../../k0rdent/management.ts";
import { plannedName, targetName, targetRelease } from "./k0rdent_release.ts";

/** The switch-release phase. */
export const k0rdentManagementPhase: Phase = {
  id: "k0rdent-management",
  title: "Move the Management to the new Release",
  async shouldRun(ctx) {
    const name = await targetName(ctx);
    return name === null || (await ctx.kubectl.management())?.release !== name;
  },
  async run(ctx) {
    const target = await targetRelease(ctx);
    await patchManagement(ctx.k0s, releasePatch(target.name), `spec.release ${target.name}`);
  },
  dryRun(ctx) {
    return [`merge-patch Management "kcm" spec.release to ${plannedName(ctx)}`];
  },
};

/** The wait-for-the-upgrade phase. */
export const waitUpgradePhase: Phase = {
  id: "wait-upgrade",
  title: "Wait for k0rdent to run the new Release",
  async shouldRun(ctx) {
    const name = await targetName(ctx);
    const mgmt = await ctx.kubectl.management();
    return name === null || !(mgmt?.statusRelease === name && mgmt.ready);
  },
  async run(ctx) {
    const target = await targetRelease(ctx);
    await waitUntil({
      label: `k0rdent ${target.version}`,
      timeoutMs: ctx.options.k0rdentTimeoutMs,
      intervalMs: ctx.options.pollIntervalMs,
      signal: ctx.signal,
      output: ctx.output,
      hint:
        `see "k0s kubectl get management kcm -o yaml"; raise the limit with --k0rdent-timeout, then run "k0rdentd upgrade" again`,
    }, async () => {
      const mgmt = await ctx.kubectl.management();
      if (!mgmt) return { ready: false, detail: 'the Management "kcm" does not answer' };
      const items = { done: mgmt.componentsReady, total: mgmt.componentsTotal };
      if (mgmt.statusRelease !== target.name) {
        return {
          ready: false,
          detail: `Management "kcm" still runs ${mgmt.statusRelease || "no Release"}`,
          items,
        };
      }
      if (mgmt.ready) return { ready: true, detail: "", items };
      const pending = mgmt.pending.length ? `; waiting for ${mgmt.pending.join(", ")}` : "";
      return {
        ready: false,
        detail:
          `Management "kcm" not Ready (${mgmt.componentsReady}/${mgmt.componentsTotal} components${pending})`,
        items,
      };
    });
  },
  dryRun(ctx) {
    return [
      `wait up to ${formatTimeout(ctx.options.k0rdentTimeoutMs)} for Management "kcm" to run ${
        plannedName(ctx)
      } and be Ready`,
    ];
  },
};

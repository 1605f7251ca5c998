/**
 * Phase: expose the k0rdent UI (NodePort Service + Ingress, objects from
 * `k0rdent/ui.ts`). Skipped, with a
 * warning, when the chart runs no UI. Also used by the `expose-ui` command.
 */
import {
  allocatedNodePort,
  renderUiExpose,
  UI_NODEPORT_SERVICE,
  UI_USER,
  uiPassword,
  type UiServiceInfo,
  uiServiceInfo,
  uiServiceName,
  uiUrls,
} from "../../k0rdent/ui.ts";
import { log } from "../../log/logger.ts";
import type { Kubectl } from "../../kube/kubectl.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";
import { hashText } from "../../hash/sha.ts";

/** Where the UI can be reached. */
export interface UiAccess {
  urls: string[];
  user: string;
  /** Only when asked for (`--show-password`). */
  password?: string;
}

async function chartUiService(ctx: InstallContext): Promise<UiServiceInfo | null> {
  const { releaseName, namespace } = ctx.config.k0rdent.helm;
  const service = await ctx.kubectl.getJson([
    "service",
    uiServiceName(releaseName),
    "-n",
    namespace,
  ]);
  return service ? uiServiceInfo(service) : null;
}

/** The URLs (and, when asked, the password) of an exposed UI; null when it is not exposed. */
export async function uiAccess(
  kubectl: Kubectl,
  releaseName: string,
  namespace: string,
  showPassword: boolean,
): Promise<UiAccess | null> {
  const ours = await kubectl.getJson(["service", UI_NODEPORT_SERVICE, "-n", namespace]);
  if (!ours) return null;
  const hosts = await kubectl.nodeAddresses();
  const access: UiAccess = { urls: uiUrls(hosts, allocatedNodePort(ours)), user: UI_USER };
  if (showPassword) {
    const deployment = await kubectl.getJson([
      "deployment",
      uiServiceName(releaseName),
      "-n",
      namespace,
    ]);
    access.password = deployment ? uiPassword(deployment) : undefined;
  }
  return access;
}

/** The UI exposure phase. */
export const k0rdentUiPhase: Phase = {
  id: "k0rdent-ui",
  title: "Expose the k0rdent UI",
  async shouldRun(ctx) {
    const info = await chartUiService(ctx);
    if (!info) {
      // A dry run has not installed the chart: whether it runs a UI is known only afterwards.
      if (ctx.host.dryRun) {
        log.info("The k0rdent UI is exposed once the k0rdent chart runs its UI Service");
      } else log.warn("The k0rdent chart runs no UI Service: nothing to expose");
      return false;
    }
    const { namespace } = ctx.config.k0rdent.helm;
    const exposed = await ctx.kubectl.getJson(["service", UI_NODEPORT_SERVICE, "-n", namespace]);
    return !exposed || ctx.state.uiDigest !== hashText(renderUiExpose(info));
  },
  async run(ctx) {
    const info = await chartUiService(ctx);
    if (!info) return; // removed since shouldRun() saw it
    const objects = renderUiExpose(info);
    await ctx.k0s.kubectlApply(
      ["apply", "--server-side", "-f", "-"],
      objects,
      `apply --server-side -f - (Service ${UI_NODEPORT_SERVICE} and Ingress)`,
    );
    await saveState(ctx.host, ctx.state, { uiDigest: hashText(objects) });
  },
  // No dryRun(): under --dry-run run() goes through the dry-run mutator, which records the apply
  // as a planned change (so `expose-ui --dry-run` and install's plan list it).
};

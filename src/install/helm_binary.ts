/**
 * Finds the helm to use: `--helm-binary`, else `helm` on PATH, else the
 * embedded one (air-gap build; extracted once to `/var/lib/k0rdentd/bin/helm`).
 */
import { extractAsset } from "../assets/extract.ts";
import { readBuildInfo } from "../assets/build_info.ts";
import { UserError } from "../errors.ts";
import { findOnPath, HelmCli } from "../helm/helm_cli.ts";
import { HOST, hostPath } from "../host/paths.ts";
import type { InstallContext } from "./phase.ts";

async function embeddedHelm(ctx: InstallContext): Promise<string | null> {
  const info = await readBuildInfo();
  if (!info.assets.some((a) => a.name === "helm")) return null;
  const target = hostPath(HOST.helmBinary);
  const present = await Deno.stat(target).then(() => true, () => false);
  if (!present) {
    await ctx.host.wet(
      `extract the embedded helm to ${HOST.helmBinary}`,
      () => extractAsset("helm", target, { info, signal: ctx.signal }),
    );
  }
  return target;
}

/** The helm wrapper for this install (memoised in `ctx.facts`). */
export async function helmFor(ctx: InstallContext): Promise<HelmCli> {
  if (ctx.facts.helm) return ctx.facts.helm;
  const binary = ctx.options.helmBinary ?? await findOnPath("helm") ?? await embeddedHelm(ctx);
  if (!binary) {
    throw new UserError(
      "Cannot find helm: install helm 3.16 or later on PATH, or pass --helm-binary PATH",
    );
  }
  ctx.facts.helm = new HelmCli({
    runner: ctx.runner,
    host: ctx.host,
    binary,
    timeoutMs: ctx.options.commandTimeoutMs,
    signal: ctx.signal,
    env: { KUBECONFIG: hostPath(HOST.k0sAdminKubeconfig) },
  });
  return ctx.facts.helm;
}

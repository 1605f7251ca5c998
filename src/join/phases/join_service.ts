/**
 * Join phase: `k0s install <role> --token-file /etc/k0s/<role>-token` (controllers also
 * `--enable-worker --no-taints -c /etc/k0s/k0s.yaml`, like the first node) once, then
 * `k0s start`; a node whose k0s runs under the other role is refused.
 */
import { UserError } from "../../errors.ts";
import { HOST } from "../../host/paths.ts";
import type { InstallContext, Phase } from "../../install/phase.ts";
import { type JoinRole, joinTokenPath } from "../token.ts";

async function checkRole(ctx: InstallContext, role: JoinRole): Promise<void> {
  const other: JoinRole = role === "worker" ? "controller" : "worker";
  if (await ctx.k0s.serviceInstalled(other)) {
    throw new UserError(
      `This node already has the k0s ${other} service: it cannot join as a ${role} (remove k0s first: k0s stop && k0s reset)`,
    );
  }
}

/** The phase installing and starting the k0s service for `role`. */
export function joinServicePhase(role: JoinRole): Phase {
  return {
    id: "k0s-join",
    title: `Join the cluster as a ${role} (k0s install ${role}, k0s start)`,
    async shouldRun(ctx) {
      await checkRole(ctx, role);
      if (!await ctx.k0s.serviceInstalled(role)) return true;
      return await ctx.k0s.status() === null;
    },
    async run(ctx) {
      if (!await ctx.k0s.serviceInstalled(role)) {
        await ctx.k0s.install({
          role,
          tokenFile: ctx.host.mapPath(joinTokenPath(role)),
          ...(role === "controller"
            ? { enableWorker: true, noTaints: true, configPath: ctx.host.mapPath(HOST.k0sConfig) }
            : {}),
        });
      }
      await ctx.k0s.start();
    },
  };
}

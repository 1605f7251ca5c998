/**
 * Phase (air gap, or online with `--registry-mirror`): write the containerd
 * registry drop-ins from the generator (`k0s/containerd_mirrors.ts`) so k0s's
 * containerd pulls from the local registry (online: upstream stays the
 * fallback); k0s watches `containerd.d/` and reloads them. A joining node adds aliases.
 */
import { join } from "node:path";
import { readRegistryCa } from "../../airgap_registry/ca.ts";
import { HOST } from "../../host/paths.ts";
import {
  containerdMirrorFiles,
  containerdMirrorOptions,
  type GeneratedFile,
} from "../../k0s/containerd_mirrors.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";

/** Other names of the local registry on this host (the `aliases` of the drop-ins). */
export type RegistryAliases = (ctx: InstallContext) => readonly string[];

async function mirrorFiles(
  ctx: InstallContext,
  aliases: RegistryAliases,
): Promise<GeneratedFile[]> {
  const options = containerdMirrorOptions(ctx.config, {
    caPem: await readRegistryCa(ctx.config),
    upstreamFallback: !ctx.options.airgap,
  });
  const k0sVersion = await ctx.k0s.version().catch(() => null);
  return containerdMirrorFiles({
    ...options,
    k0sVersion: k0sVersion ?? options.k0sVersion,
    aliases: [...options.aliases ?? [], ...aliases(ctx)],
  });
}

function hostFile(file: GeneratedFile): string {
  return join(HOST.containerdDropIns, file.path);
}

/**
 * The containerd mirrors phase, with `aliases` for the registry (a joining node maps the
 * first node's local registry names to the registry it reaches).
 */
export function containerdMirrorsPhaseWith(aliases: RegistryAliases): Phase {
  return {
    id: "containerd-mirrors",
    title: "Point containerd at the local registry",
    async shouldRun(ctx) {
      if (!ctx.options.mirror) return false;
      for (const file of await mirrorFiles(ctx, aliases)) {
        if (!await ctx.host.matches(hostFile(file), file.content, file.mode)) return true;
      }
      return false;
    },
    async run(ctx) {
      const files = await mirrorFiles(ctx, aliases);
      for (const file of files) {
        await ctx.host.writeFile(hostFile(file), file.content, { mode: file.mode });
      }
      await saveState(ctx.host, ctx.state, {
        files: [...ctx.state.files ?? [], ...files.map(hostFile)],
      });
    },
  };
}

/** The containerd mirrors phase of `install` (air gap, or online with `--registry-mirror`). */
export const containerdMirrorsPhase: Phase = containerdMirrorsPhaseWith(() => []);

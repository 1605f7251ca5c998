/**
 * Phase (air gap, or online with `--registry-mirror`): write the containerd
 * registry drop-ins from the generator (`k0s/containerd_mirrors.ts`) so k0s's
 * containerd pulls from the local registry (online: upstream stays the
 * fallback); k0s watches `containerd.d/` and reloads them.
 */
import { join } from "node:path";
import { readRegistryCa } from "../../airgap/registry_ca.ts";
import { fileMatches } from "../../host/mutator.ts";
import { HOST } from "../../host/paths.ts";
import {
  containerdMirrorFiles,
  containerdMirrorOptions,
  type GeneratedFile,
} from "../../k0s/containerd_mirrors.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";

async function mirrorFiles(ctx: InstallContext): Promise<GeneratedFile[]> {
  const options = containerdMirrorOptions(ctx.config, {
    caPem: await readRegistryCa(ctx.config),
    upstreamFallback: !ctx.options.airgap,
  });
  const k0sVersion = await ctx.k0s.version().catch(() => null);
  return containerdMirrorFiles({ ...options, k0sVersion: k0sVersion ?? options.k0sVersion });
}

function hostFile(file: GeneratedFile): string {
  return join(HOST.containerdDropIns, file.path);
}

/** The containerd mirrors phase (air gap, or online with `--registry-mirror`). */
export const containerdMirrorsPhase: Phase = {
  id: "containerd-mirrors",
  title: "Point containerd at the local registry",
  async shouldRun(ctx) {
    if (!ctx.options.mirror) return false;
    for (const file of await mirrorFiles(ctx)) {
      if (!await fileMatches(hostFile(file), file.content)) return true;
    }
    return false;
  },
  async run(ctx) {
    const files = await mirrorFiles(ctx);
    for (const file of files) await ctx.host.writeFile(hostFile(file), file.content);
    await saveState(ctx.host, ctx.state, {
      files: [...ctx.state.files ?? [], ...files.map(hostFile)],
    });
  },
};

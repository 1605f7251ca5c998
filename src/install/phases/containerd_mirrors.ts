/**
 * Phase (air gap, or online with `--registry-mirror`): write the containerd
 * registry drop-ins from the generator (`k0s/containerd_mirrors.ts`) so k0s's
 * containerd pulls from the local registry (online: upstream stays the
 * fallback); k0s watches `containerd.d/` and reloads them. A joining node adds aliases.
 */
import { join } from "node:path";
import { readRegistryCa } from "../../airgap_registry/ca.ts";
import { HOST } from "../../host/paths.ts";
import { UserError } from "../../errors.ts";
import {
  containerdConfigVersion,
  containerdMirrorFiles,
  containerdMirrorOptions,
  CRI_REGISTRY_FILE,
  type GeneratedFile,
} from "../../k0s/containerd_mirrors.ts";
import { pathExists } from "../../fsx/exists.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";

/** Other names of the local registry on this host (the `aliases` of the drop-ins). */
export type RegistryAliases = (ctx: InstallContext) => readonly string[];

/** The drop-ins for the k0s `k0sVersion`; by default the installed one (else the configured). */
async function mirrorFiles(
  ctx: InstallContext,
  aliases: RegistryAliases,
  k0sVersion?: string,
): Promise<GeneratedFile[]> {
  const options = containerdMirrorOptions(ctx.config, {
    caPem: await readRegistryCa(ctx.config),
    upstreamFallback: !ctx.options.airgap,
  });
  const installed = k0sVersion ?? await ctx.k0s.version().catch(() => null);
  return containerdMirrorFiles({
    ...options,
    k0sVersion: installed ?? options.k0sVersion,
    aliases: [...options.aliases ?? [], ...aliases(ctx)],
  });
}

async function writeMirrorFiles(ctx: InstallContext, files: GeneratedFile[]): Promise<void> {
  for (const file of files) {
    await ctx.host.writeFile(hostFile(file), file.content, { mode: file.mode });
  }
  await saveState(ctx.host, ctx.state, {
    files: [...ctx.state.files ?? [], ...files.map(hostFile)],
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
      await writeMirrorFiles(ctx, await mirrorFiles(ctx, aliases));
    },
  };
}

/**
 * How to bring this host's drop-ins (air gap, or `--registry-mirror`; only when the install wrote
 * them) in line with the k0s `k0sVersion` about to start: a write to run once k0s is stopped, or
 * null when they fit. Computed before anything stops, so that a failure here changes nothing.
 * A k0s upgrade across 1.36 changes containerd's config schema, and each side refuses the other's
 * drop-in. k0s >= 1.36 rejects a `version = 2` / `io.containerd.grpc.v1.cri` snippet in its worker
 * preflight and does not start (k0sproject/k0s v1.36.1+k0s.0
 * `internal/pkg/sysinfo/probes/containerd.go`, `pkg/component/worker/containerd/configurer.go`
 * ValidateConfigFile); k0s < 1.36 hands a `version = 3` file to containerd 1.7 as an import, which
 * then refuses to start ("unsupported config version `3`", containerd v1.7.27
 * `services/server/config/config.go` ValidateV2). Without the install's flags (`--airgap` or
 * `--registry-mirror`) the files cannot be generated again: drop-ins in the other schema are then
 * refused with a message naming them.
 */
export async function containerdMirrorsRewrite(
  ctx: InstallContext,
  k0sVersion: string,
): Promise<(() => Promise<void>) | null> {
  const path = join(HOST.containerdDropIns, CRI_REGISTRY_FILE);
  if (!await hasMirrorDropIns(ctx)) return null;
  if (!ctx.options.mirror) {
    const text = await Deno.readTextFile(ctx.host.mapPath(path));
    const schema = containerdConfigVersion(k0sVersion);
    if (/^version = (\d+)/m.exec(text)?.[1] === String(schema)) return null;
    throw new UserError(
      `This host's registry drop-ins (${path}) are not in the containerd config schema version ${schema} that k0s ${k0sVersion} needs: rerun with the flags the install used (--airgap, or --registry-mirror) so they are written again`,
    );
  }
  const files = await mirrorFiles(ctx, () => [], k0sVersion);
  const cri = files.find((f) => f.path === CRI_REGISTRY_FILE)!;
  if (await ctx.host.matches(hostFile(cri), cri.content, cri.mode)) return null;
  return () => writeMirrorFiles(ctx, files);
}

/**
 * True when this host holds the registry drop-ins an install wrote (air gap, or
 * `--registry-mirror`), whatever this command's flags: the other nodes of its cluster hold
 * their own, in the same schema.
 */
export async function hasMirrorDropIns(ctx: InstallContext): Promise<boolean> {
  return await pathExists(ctx.host.mapPath(join(HOST.containerdDropIns, CRI_REGISTRY_FILE)));
}

/** The containerd mirrors phase of `install` (air gap, or online with `--registry-mirror`). */
export const containerdMirrorsPhase: Phase = containerdMirrorsPhaseWith(() => []);

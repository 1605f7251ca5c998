/**
 * Finds the helm to use: `--helm-binary`, else `helm` on PATH, else the
 * embedded one (air-gap build), else (online) a checksum-verified download of
 * the helm release; the last two are put at `/var/lib/k0rdentd/bin/helm` once.
 * The download is the build's (`src/releases/download.ts`): the pinned
 * SHA-256 when the version is pinned, else the published `.sha256sum`.
 */
import { dirname, join } from "node:path";
import { HELM_TARBALL_SHA256, helmUrl, hostArch, OFFICIAL_SOURCES } from "../releases/pins.ts";
import { fetchHelm } from "../releases/download.ts";
import { extractAsset } from "../assets/extract.ts";
import { readBuildInfo } from "../assets/build_info.ts";
import { UserError } from "../errors.ts";
import { readLimited } from "../registry/limits.ts";
import { HelmCli } from "../helm/helm_cli.ts";
import { findOnPath } from "../process/find_on_path.ts";
import { HOST } from "../host/paths.ts";
import type { InstallContext } from "./phase.ts";

async function embeddedHelm(ctx: InstallContext): Promise<string | null> {
  const info = await readBuildInfo();
  if (!info.assets.some((a) => a.name === "helm")) return null;
  const target = ctx.host.mapPath(HOST.helmBinary);
  const present = await Deno.stat(target).then(() => true, () => false);
  if (!present) {
    await ctx.host.installFile(
      HOST.helmBinary,
      `extract the embedded helm to ${HOST.helmBinary}`,
      (temp) => extractAsset("helm", temp, { info, signal: ctx.signal }),
    );
  }
  return target;
}

/** A `.sha256sum` file read at most (one line). */
const MAX_SUM_BYTES = 64 * 1024;

async function publishedSum(url: string, signal: AbortSignal): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${url}.sha256sum`, { signal });
  } catch (err) {
    throw new UserError(`Cannot download "${url}.sha256sum": ${(err as Error).message}`);
  }
  const text = res.ok
    ? new TextDecoder().decode(
      await readLimited(res.body, MAX_SUM_BYTES, () =>
        new UserError(
          `Cannot verify helm: "${url}.sha256sum" has more than ${MAX_SUM_BYTES} bytes`,
        )),
    )
    : (await res.body?.cancel(), "");
  const sum = /^[0-9a-f]{64}/i.exec(text.trim())?.[0];
  if (!sum) throw new UserError(`Cannot verify helm: "${url}.sha256sum" holds no SHA-256`);
  return sum.toLowerCase();
}

async function downloadedHelm(ctx: InstallContext): Promise<string> {
  const target = ctx.host.mapPath(HOST.helmBinary);
  if (await Deno.stat(target).then(() => true, () => false)) return target;
  const { helmVersion: version, helmDownloadUrl } = ctx.options;
  const sources = { ...OFFICIAL_SOURCES, helmBase: helmDownloadUrl };
  const arch = hostArch();
  const url = helmUrl(sources, version, arch);
  const line = `download helm ${version} from ${url} to ${HOST.helmBinary}`;
  await ctx.host.installFile(HOST.helmBinary, line, async (temp) => {
    const sha256 = HELM_TARBALL_SHA256[version]?.[arch] ??
      await publishedSum(url, ctx.signal);
    // The tarball and its unpacked binary, beside the target; removed once helm is in place.
    const dir = join(dirname(target), ".download");
    try {
      const binary = await fetchHelm({
        version,
        arch,
        dir,
        sha256,
        sources,
        signal: ctx.signal,
        output: ctx.output,
      });
      await Deno.rename(binary, temp);
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
  return target;
}

/** The helm wrapper for this install (memoised in `ctx.facts`). */
export async function helmFor(ctx: InstallContext): Promise<HelmCli> {
  if (ctx.facts.helm) return ctx.facts.helm;
  let binary = ctx.options.helmBinary ?? await findOnPath("helm") ?? await embeddedHelm(ctx);
  if (!binary && ctx.options.airgap) {
    throw new UserError(
      "Cannot find helm: install helm 3.16 or later on PATH, or pass --helm-binary PATH",
    );
  }
  binary ??= await downloadedHelm(ctx);
  ctx.facts.helm = new HelmCli({
    runner: ctx.runner,
    host: ctx.host,
    binary,
    timeoutMs: ctx.options.commandTimeoutMs,
    signal: ctx.signal,
    env: { KUBECONFIG: ctx.host.mapPath(HOST.k0sAdminKubeconfig) },
  });
  return ctx.facts.helm;
}

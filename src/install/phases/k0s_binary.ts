/**
 * Phase: put the k0s binary in `/usr/local/bin/k0s`, from `--k0s-binary`,
 * the embedded asset (air-gap build) or a checksum-verified download. Version
 * rules: an installed k0s of the wanted version is
 * used as is; another version is an error unless `--replace-k0s`; a running
 * k0s is stopped before its binary is replaced, never overwritten live.
 */
import { join } from "node:path";
import { extractAsset, findAsset } from "../../assets/extract.ts";
import { readBuildInfo } from "../../assets/build_info.ts";
import { UserError } from "../../errors.ts";
import { Progress, progressMode } from "../../log/progress.ts";
import { HOST } from "../../host/paths.ts";
import { runChecked } from "../../process/runner.ts";
import { downloadK0s } from "../../k0s/download.ts";
import { k0sUrl, OFFICIAL_SOURCES } from "../../releases/pins.ts";
import type { InstallContext, Phase } from "../phase.ts";
import { saveState } from "../state.ts";

/** Where the binary comes from, and its version. */
export interface K0sSource {
  version: string;
  /** For the plan, e.g. `k0s v1.32.8+k0s.0 downloaded from <url>`. */
  describe: string;
  /** The binary as a file that can run where it is (`--k0s-binary`); absent when it must be written. */
  path?: string;
  /** Writes the verified binary to `target` (a real path). */
  write(target: string): Promise<void>;
}

/** Where the k0s-binary phase takes k0s from: `--k0s-binary`, the embedded asset, or a download. */
export async function k0sSource(ctx: InstallContext): Promise<K0sSource> {
  const { options, config } = ctx;
  if (options.k0sBinary) {
    const path = options.k0sBinary;
    let version: string;
    try {
      version = (await runChecked(ctx.runner, [path, "version"], { timeoutMs: 30_000 })).stdout
        .trim();
    } catch (err) {
      throw new UserError(`Cannot use --k0s-binary "${path}": ${(err as Error).message}`);
    }
    return {
      version,
      describe: `k0s ${version} from "${path}"`,
      path,
      write: (target) => Deno.copyFile(path, target).then(() => Deno.chmod(target, 0o755)),
    };
  }
  if (options.airgap) {
    const info = await readBuildInfo();
    if (info.flavor !== "airgap") {
      throw new UserError(
        `install --airgap with the online build needs --k0s-binary PATH (k0s ${config.k0s.version} for ${options.arch}), or use the air-gap build k0rdentd-airgap-linux-${options.arch}`,
      );
    }
    const asset = findAsset(info, "k0s");
    return {
      version: asset.version,
      describe: `embedded k0s ${asset.version}`,
      write: async (target) => {
        const progress = new Progress({
          label: `Extracting k0s ${asset.version}`,
          total: asset.size,
          unit: "bytes",
          mode: progressMode(ctx.output),
        });
        await extractAsset("k0s", target, {
          info,
          signal: ctx.signal,
          onProgress: (written) => progress.set(written),
        });
        progress.done(`Extracted k0s ${asset.version}`);
      },
    };
  }
  const version = config.k0s.version;
  return {
    version,
    describe: `k0s ${version} downloaded from ${
      k0sUrl({ ...OFFICIAL_SOURCES, k0sBase: options.k0sDownloadUrl }, version, options.arch)
    }`,
    write: (target) =>
      downloadK0s({
        baseUrl: options.k0sDownloadUrl,
        version,
        arch: options.arch,
        target,
        output: ctx.output,
        signal: ctx.signal,
      }),
  };
}

/**
 * Runs `use` with the k0s binary the k0s-binary phase would leave in `/usr/local/bin/k0s`, without
 * installing it: the installed k0s when it is the wanted version, the `--k0s-binary` file where it
 * is, else a copy written to a private temp dir (the extracted embedded asset; online, a
 * download) that is removed afterwards. Changes nothing on the host, also under dry-run.
 */
export async function withWantedK0s<T>(
  ctx: InstallContext,
  use: (program: string, version: string) => Promise<T>,
): Promise<T> {
  const source = await k0sSource(ctx);
  if (await ctx.k0s.version() === source.version) return await use(ctx.k0s.program, source.version);
  if (source.path) return await use(source.path, source.version);
  const dir = await Deno.makeTempDir({ prefix: "k0rdentd-k0s-" }); // 0700
  try {
    const program = join(dir, "k0s");
    await source.write(program);
    return await use(program, source.version);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The k0s binary phase. */
export const k0sBinaryPhase: Phase = {
  id: "k0s-binary",
  title: "Install the k0s binary",
  async shouldRun(ctx) {
    const installed = await ctx.k0s.version();
    if (installed === null) return true;
    const wanted = (await k0sSource(ctx)).version;
    if (installed === wanted) return false;
    if (!ctx.options.replaceK0s) {
      throw new UserError(
        `k0s ${installed} is installed but ${wanted} is wanted: rerun with --replace-k0s to replace it, or use --k0s-version ${installed}`,
      );
    }
    return true;
  },
  async run(ctx) {
    const source = await k0sSource(ctx);
    const installed = await ctx.k0s.version();
    if (installed !== null && installed !== source.version && await ctx.k0s.status()) {
      await ctx.k0s.stop();
    }
    await installK0sBinary(ctx, source);
    await saveState(ctx.host, ctx.state, { k0sBinaryOurs: true });
  },
};

/**
 * Writes `source` as `/usr/local/bin/k0s` (through the mutator): beside the target, then renamed,
 * so a half-written k0s is never visible. The caller stops a running k0s first.
 */
export async function installK0sBinary(ctx: InstallContext, source: K0sSource): Promise<void> {
  await ctx.host.installFile(
    HOST.k0sBinary,
    `install ${source.describe} as ${HOST.k0sBinary}`,
    (temp) => source.write(temp),
  );
}

/**
 * The shared release build: stage the build metadata and the compressed tool
 * binaries into `<root>/assets/` (where `src/assets/build_info.ts` finds them,
 * from source and inside the compiled binary), compile with `--include` of
 * exactly those files, remove them again and report each artifact's size.
 *
 * Layout under the project root:
 * ```
 * assets/
 *   build-info.json      staged metadata (flavor, versions, target, asset digests)
 *   k0s.br, helm.br      staged compressed tools (air-gap only)
 *   .build.lock          held while a build stages (pid inside)
 *   build/downloads/     cached k0s / helm downloads
 * dist/
 *   k0rdentd-linux-<arch>, k0rdentd-airgap-linux-<arch>
 * ```
 */
import { join } from "node:path";
import denoJson from "../deno.json" with { type: "json" };
import type { AssetCompression, AssetInfo, BuildInfo, Flavor } from "../src/assets/build_info.ts";
import { errorMessage, UserError } from "../src/errors.ts";
import { pathExists } from "../src/fsx/exists.ts";
import { takePidLock } from "../src/fsx/pid_lock.ts";
import { log } from "../src/log/logger.ts";
import { printOut } from "../src/log/output.ts";
import { formatBytes, Progress, progressMode } from "../src/log/progress.ts";
import type { Runner } from "../src/process/runner.ts";
import { compileBinary } from "./compile.ts";
import { stageAsset, writeBuildInfo } from "./stage_assets.ts";
import { describeTarget, executableTarget, type Target } from "./targets.ts";

/** The project root (where deno.json and main.ts are). */
export const PROJECT_ROOT: string = join(import.meta.dirname ?? ".", "..");

/** A tool binary to embed. */
export interface ToolBinary {
  name: string;
  version: string;
  path: string;
}

/** Options of {@link buildFlavor}. */
export interface BuildFlavorOptions {
  flavor: Flavor;
  target: Target;
  /** Project root: staging dir and cwd of `deno compile`. */
  root: string;
  /** Binaries to embed (air-gap). */
  tools: readonly ToolBinary[];
  compression: AssetCompression;
  runner: Runner;
  /** False: stage the assets and stop (they stay, so `deno run` reports this flavor). */
  compile: boolean;
  /** Output dir of the artifact, relative to `root` or absolute; default `dist`. */
  outDir?: string;
  env?: (name: string) => string | undefined;
  signal?: AbortSignal;
  /** Build time, for tests. */
  now?: () => Date;
}

/** What a build produced. */
export interface BuildResult {
  info: BuildInfo;
  /** The staged assets dir. */
  assetsDir: string;
  /** The executable and its size (absent with `compile: false`). */
  artifact?: { path: string; size: number };
}

/** File name of the artifact for a flavor and target. */
export function artifactName(flavor: Flavor, target: Target): string {
  return `k0rdentd-${flavor === "airgap" ? "airgap-" : ""}linux-${target.arch}`;
}

/** Runs one build; see the module doc. */
export async function buildFlavor(options: BuildFlavorOptions): Promise<BuildResult> {
  for (const tool of options.tools) await checkToolTarget(tool, options.target);
  const assetsDir = join(options.root, "assets");
  const createdAssetsDir = !await pathExists(assetsDir);
  await Deno.mkdir(assetsDir, { recursive: true });
  const release = await lockAssets(assetsDir);
  const staged: string[] = [];
  try {
    const assets: AssetInfo[] = [];
    for (const tool of options.tools) {
      const progress = new Progress({
        label: `Compressing ${tool.name} ${tool.version} (${options.compression})`,
        total: 0,
        mode: progressMode("text"),
      });
      const asset = await stageAsset({
        name: tool.name,
        version: tool.version,
        source: tool.path,
        dir: assetsDir,
        compression: options.compression,
        onProgress: (read, total) => {
          progress.setTotal(total);
          progress.set(read);
        },
      });
      staged.push(asset.file);
      progress.done(
        `Asset ${asset.file}: ${formatBytes(asset.size)} -> ${formatBytes(asset.compressedSize)} ` +
          `(${asset.compressedSize} bytes, sha256:${asset.sha256})`,
      );
      assets.push(asset);
    }
    const version = (name: string) => options.tools.find((t) => t.name === name)?.version;
    const info: BuildInfo = {
      flavor: options.flavor,
      version: denoJson.version,
      ...(version("k0s") ? { k0sVersion: version("k0s") } : {}),
      ...(version("helm") ? { helmVersion: version("helm") } : {}),
      buildTime: (options.now?.() ?? new Date()).toISOString(),
      target: options.target.triple,
      assets,
    };
    await writeBuildInfo(assetsDir, info);
    staged.push("build-info.json");
    if (!options.compile) {
      log.info(
        `Staged ${staged.join(", ")} in ${assetsDir} without compiling; ` +
          `\`deno run main.ts show-flavor\` now reports "${options.flavor}" until you delete them`,
      );
      staged.length = 0;
      return { info, assetsDir };
    }
    const output = join(options.outDir ?? "dist", artifactName(options.flavor, options.target));
    await compileBinary({
      root: options.root,
      target: options.target,
      output,
      includes: ["build-info.json", ...assets.map((a) => a.file)].map((file) => `assets/${file}`),
      runner: options.runner,
      env: options.env,
      signal: options.signal,
    });
    const path = join(options.root, output);
    let size: number;
    try {
      size = (await Deno.stat(path)).size;
    } catch (err) {
      throw new UserError(`deno compile wrote no "${path}": ${errorMessage(err)}`);
    }
    printOut(`${output}  ${formatBytes(size)} (${size} bytes)`);
    return { info, assetsDir, artifact: { path, size } };
  } finally {
    for (const file of staged) await Deno.remove(join(assetsDir, file)).catch(() => {});
    await release();
    // A build leaves no empty assets/ behind (a non-empty one, e.g. with downloads, stays).
    if (createdAssetsDir) await Deno.remove(assetsDir).catch(() => {});
  }
}

/**
 * Takes `assets/.build.lock` (two builds must not stage into one assets dir);
 * a lock left by a process that is gone is taken over. Returns the release function.
 */
function lockAssets(dir: string): Promise<() => Promise<void>> {
  return takePidLock(
    join(dir, ".build.lock"),
    (pid) => `Another build (pid ${pid}) is staging in "${dir}": wait for it to finish`,
  );
}

/**
 * Refuses a tool binary built for another arch (it would install a k0s that cannot run);
 * a file that is not ELF (a script, as in tests) is embedded with a warning.
 */
async function checkToolTarget(tool: ToolBinary, target: Target): Promise<void> {
  const found = await executableTarget(tool.path, `${tool.name} binary`);
  if (found === target) return;
  if (found === undefined) {
    log.warn(`${tool.name} binary "${tool.path}" is not an ELF executable; embedding it as is`);
    return;
  }
  throw new UserError(
    `${tool.name} binary "${tool.path}" is built for ${describeTarget(found)}, ` +
      `but the target is ${target.triple}`,
  );
}

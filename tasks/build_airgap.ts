/**
 * `deno task build-airgap`: the air-gap executable
 * `dist/k0rdentd-airgap-linux-<arch>` with k0s and helm for the target arch
 * embedded (compressed, with their sizes and SHA-256 in the build metadata).
 * The binaries are downloaded and checked against pinned SHA-256 sums, or
 * taken from local files for offline builds.
 */
import { Command, Option } from "commander";
import { join } from "node:path";
import type { AssetCompression } from "../src/assets/build_info.ts";
import { UsageError } from "../src/errors.ts";
import { ProcessRunner, type Runner } from "../src/process/runner.ts";
import { buildFlavor, PROJECT_ROOT, type ToolBinary } from "./build_flavor.ts";
import { fetchHelm, fetchK0s } from "../src/releases/download.ts";
import {
  DEFAULT_HELM_VERSION,
  DEFAULT_K0S_VERSION,
  type ToolSources,
} from "../src/releases/pins.ts";
import { runTask, targetOption, taskProgram } from "./run_task.ts";
import { parseTarget } from "./targets.ts";

/** What the task uses from its surroundings; tests pass a fake runner and a temp root. */
export interface AirgapDeps {
  runner?: Runner;
  root?: string;
  sources?: ToolSources;
  env?: (name: string) => string | undefined;
  now?: () => Date;
}

interface AirgapFlags {
  target?: string;
  k0sVersion: string;
  helmVersion: string;
  k0sBinary?: string;
  helmBinary?: string;
  k0sSha256?: string;
  helmSha256?: string;
  compression: AssetCompression;
  outDir: string;
  compile: boolean;
}

const K0S_VERSION_RE = /^v\d+\.\d+\.\d+\+k0s\.\d+$/;

/** The `build-airgap` task program. */
export function airgapProgram(signal?: AbortSignal, deps: AirgapDeps = {}): Command {
  return taskProgram(new Command("build-airgap"))
    .description(
      "Compile the air-gap executable dist/k0rdentd-airgap-linux-<arch> with k0s and helm",
    )
    .addOption(targetOption())
    .option("--k0s-version <v>", "k0s version to embed", DEFAULT_K0S_VERSION)
    .option("--helm-version <v>", "helm version to embed", DEFAULT_HELM_VERSION)
    .option(
      "--k0s-binary <path>",
      "use this k0s binary (for the target arch) instead of downloading",
    )
    .option(
      "--helm-binary <path>",
      "use this helm binary (for the target arch) instead of downloading",
    )
    .option("--k0s-sha256 <hex>", "expected SHA-256 of the k0s download (default: pinned)")
    .option("--helm-sha256 <hex>", "expected SHA-256 of the helm tarball (default: pinned)")
    .addOption(
      new Option("--compression <format>", "compression of the embedded binaries")
        .choices(["brotli", "gzip"]).default("brotli"),
    )
    .option("--out-dir <dir>", "output directory", "dist")
    .option("--no-compile", "stage assets/ (metadata and compressed binaries) and stop")
    .addHelpText(
      "after",
      `
Without --k0s-binary/--helm-binary the binaries are downloaded to
assets/build/downloads/ and checked against the SHA-256 sums pinned in
src/releases/pins.ts (or --k0s-sha256/--helm-sha256). The compile base (denort) comes
from DENORT_BIN when set (it must be the denort for the target), else from
Deno's download cache, else deno compile downloads it.

Examples:
  deno task build-airgap
  deno task build-airgap --target aarch64-unknown-linux-gnu
  deno task build-airgap --k0s-binary ./k0s --helm-binary ./helm --k0s-version v1.32.8+k0s.0
  DENORT_BIN=/opt/denort-x86_64 deno task build-airgap --compression gzip`,
    )
    .action(async (flags: AirgapFlags) => {
      const target = parseTarget(flags.target);
      if (!K0S_VERSION_RE.test(flags.k0sVersion)) {
        throw new UsageError(
          `Invalid --k0s-version "${flags.k0sVersion}": expected e.g. ${DEFAULT_K0S_VERSION}`,
        );
      }
      if (!/^v\d+\.\d+\.\d+$/.test(flags.helmVersion)) {
        throw new UsageError(
          `Invalid --helm-version "${flags.helmVersion}": expected e.g. ${DEFAULT_HELM_VERSION}`,
        );
      }
      const root = deps.root ?? PROJECT_ROOT;
      const downloads = join(root, "assets", "build", "downloads");
      const fetchOptions = {
        arch: target.arch,
        dir: downloads,
        sources: deps.sources,
        signal,
        offlineHint: "without network, build from local files with --k0s-binary and --helm-binary",
      };
      const tools: ToolBinary[] = [
        {
          name: "k0s",
          version: flags.k0sVersion,
          path: flags.k0sBinary ??
            await fetchK0s({ ...fetchOptions, version: flags.k0sVersion, sha256: flags.k0sSha256 }),
        },
        {
          name: "helm",
          version: flags.helmVersion,
          path: flags.helmBinary ??
            await fetchHelm({
              ...fetchOptions,
              version: flags.helmVersion,
              sha256: flags.helmSha256,
            }),
        },
      ];
      await buildFlavor({
        flavor: "airgap",
        target,
        root,
        tools,
        compression: flags.compression,
        runner: deps.runner ?? new ProcessRunner(),
        compile: flags.compile,
        outDir: flags.outDir,
        env: deps.env,
        signal,
        now: deps.now,
      });
    });
}

if (import.meta.main) await runTask(airgapProgram, Deno.args);

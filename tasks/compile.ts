/**
 * `deno compile` for a release artifact: the argv (permission flags from
 * `src/permissions.ts`, `--target`, `--include` of the worker modules and the staged assets), the
 * compile base (`DENORT_BIN` or Deno's download cache) and the run through
 * the project's process runner.
 */
import { join } from "node:path";
import { ToolError, UserError } from "../src/errors.ts";
import { log } from "../src/log/logger.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { runChecked, type Runner } from "../src/process/runner.ts";
import { describeTarget, executableTarget, type Target } from "../src/tools/targets.ts";

/** What to compile. Paths are relative to `root`, where `deno compile` runs. */
export interface CompileOptions {
  root: string;
  target: Target;
  /** Output path of the executable. */
  output: string;
  /** Files embedded with `--include`. */
  includes: readonly string[];
  runner: Runner;
  /** Environment lookup (`DENORT_BIN`, `DENO_DIR`, `XDG_CACHE_HOME`, `HOME`); default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  signal?: AbortSignal;
}

/** The entry point compiled into every artifact. */
export const ENTRY_POINT = "main.ts";

/**
 * Worker entry points (`new Worker(new URL(...))`), which `deno compile` embeds only when told
 * with `--include` (tests/compile_workers_test.ts checks this list against the sources).
 */
export const WORKER_MODULES: readonly string[] = ["src/registry/auth/bcrypt_worker_main.ts"];

/** The argv of `deno compile` (the deno running this task compiles). */
export function compileArgv(options: CompileOptions): string[] {
  return [
    Deno.execPath(),
    "compile",
    // The lock must match deno.json; embed only the npm packages main.ts reaches (package.json's
    // dev dependency on the deno npm package would otherwise add ~90 MB).
    "--frozen",
    "--exclude-unused-npm",
    ...BINARY_PERMISSIONS,
    "--target",
    options.target.triple,
    ...[...WORKER_MODULES, ...options.includes].flatMap((path) => ["--include", path]),
    "--output",
    options.output,
    ENTRY_POINT,
  ];
}

/** Where `deno compile` caches the compile base for `target` when it downloads it. */
export function cachedDenortPath(
  target: Target,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  const denoDir = env("DENO_DIR") ||
    join(env("XDG_CACHE_HOME") || join(env("HOME") ?? "/root", ".cache"), "deno");
  return join(denoDir, "dl", "release", `v${Deno.version.deno}`, `denort-${target.triple}.zip`);
}

/** The compile base `deno compile` will use. */
export type DenortSource =
  | { kind: "env"; path: string }
  | { kind: "cache"; path: string }
  | { kind: "download"; cachePath: string };

/**
 * Finds the compile base: `DENORT_BIN` (checked to exist and to be an ELF
 * executable for the target, since Deno uses it for any `--target`), else the
 * cached download, else it must be downloaded by `deno compile`.
 */
export async function resolveDenort(
  target: Target,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<DenortSource> {
  const path = env("DENORT_BIN");
  if (path) {
    const found = await executableTarget(path, "DENORT_BIN");
    if (found !== target) {
      throw new UserError(
        `DENORT_BIN "${path}" is a runtime for ${describeTarget(found)}, but the target is ` +
          `${target.triple}: set DENORT_BIN to the denort of Deno ${Deno.version.deno} for ` +
          target.triple,
      );
    }
    return { kind: "env", path };
  }
  const cached = cachedDenortPath(target, env);
  try {
    await Deno.stat(cached);
    return { kind: "cache", path: cached };
  } catch {
    return { kind: "download", cachePath: cached };
  }
}

/** Runs `deno compile`; a failure names the compile base and how to provide it. */
export async function compileBinary(options: CompileOptions): Promise<void> {
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const denort = await resolveDenort(options.target, env);
  if (denort.kind === "env") log.info(`Compile base: DENORT_BIN=${denort.path}`);
  else if (denort.kind === "cache") log.info(`Compile base: cached ${denort.path}`);
  else {
    log.warn(
      `No DENORT_BIN and no cached compile base at "${denort.cachePath}": ` +
        `deno compile will download denort for ${options.target.triple} from dl.deno.land`,
    );
  }
  const argv = compileArgv(options);
  log.info(`Compiling ${options.output} (${options.target.triple})`);
  try {
    await runChecked(options.runner, argv, {
      cwd: options.root,
      env: denort.kind === "env" ? { DENORT_BIN: denort.path } : undefined,
      signal: options.signal,
    });
  } catch (err) {
    if (!(err instanceof ToolError) || denort.kind !== "download") throw err;
    throw new UserError(
      `deno compile failed for ${options.target.triple} and no compile base was available: ` +
        `DENORT_BIN is not set and "${denort.cachePath}" does not exist, so it had to be ` +
        `downloaded (no network?). Set DENORT_BIN to the denort binary of Deno ` +
        `${Deno.version.deno} for ${options.target.triple}. deno said: ` +
        (err.stderrTail.trim().split("\n").slice(-3).join(" | ") || `exit code ${err.code}`),
    );
  }
}

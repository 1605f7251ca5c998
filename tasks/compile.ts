/**
 * `deno compile` for a release artifact: the argv (permission flags from
 * `src/permissions.ts`, `--target`, `--include` of the worker modules and the staged assets), the
 * compile base (`DENORT_BIN` or Deno's download cache) and the run through
 * the project's process runner.
 */
import { basename, dirname, join, resolve } from "node:path";
import { ToolError, UserError } from "../src/errors.ts";
import { pathExists } from "../src/fsx/exists.ts";
import { log } from "../src/log/logger.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { runChecked, type Runner } from "../src/process/runner.ts";
import { describeTarget, executableTarget, type Target } from "./targets.ts";

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
 *
 * Deno 2.9 reads `DENORT_BIN` whenever it is set (`get_dev_binary_path` in
 * denoland/deno `cli/standalone/binary.rs`, v2.9.5: `env::var_os`, then `std::fs::read` relative
 * to its own cwd), so a set-but-empty one is refused here (deno would fail on `''` rather than use
 * the cache) and a relative one is made absolute from the directory the task was started in
 * (`deno compile` runs in the project root).
 */
export async function resolveDenort(
  target: Target,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<DenortSource> {
  const given = env("DENORT_BIN");
  if (given === "") {
    throw new UserError(
      "DENORT_BIN is set but empty: deno compile would read it as the compile base instead of " +
        `its download cache; unset it or set it to the denort of Deno ${Deno.version.deno} for ` +
        target.triple,
    );
  }
  if (given !== undefined) {
    const path = resolve(given);
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

/**
 * Runs `deno compile` into a temp file beside the output and renames it into place, so a failed or
 * interrupted build leaves neither a half-written executable nor output directories it created
 * (deno creates the `--output` directory itself). A failure is one line: a missing compile base
 * says what to set, anything else gives deno's error and its innermost cause.
 */
export async function compileBinary(options: CompileOptions): Promise<void> {
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const denort = await resolveDenort(options.target, env);
  if (denort.kind === "env") log.info(`Compile base: DENORT_BIN=${denort.path}`);
  else if (denort.kind === "cache") log.info(`Compile base: cached ${denort.path}`);
  else {
    log.info(
      `Compile base: none cached at "${denort.cachePath}" and DENORT_BIN is not set; ` +
        `deno compile downloads denort for ${options.target.triple} from dl.deno.land`,
    );
  }
  const dir = dirname(options.output);
  const partial = join(dir, `.${basename(options.output)}.${crypto.randomUUID().slice(0, 8)}.part`);
  const absDir = resolve(options.root, dir);
  const createdDirs = await missingDirs(absDir);
  log.info(`Compiling ${options.output} (${options.target.triple})`);
  let done = false;
  try {
    await runChecked(options.runner, compileArgv({ ...options, output: partial }), {
      cwd: options.root,
      env: denort.kind === "env" ? { DENORT_BIN: denort.path } : undefined,
      signal: options.signal,
    }).catch((err) => {
      if (options.signal?.aborted) throw options.signal.reason;
      throw err instanceof ToolError ? compileFailure(err, options.target, denort) : err;
    });
    await Deno.rename(resolve(options.root, partial), resolve(options.root, options.output));
    done = true;
  } finally {
    if (!done) {
      await removeLeftovers(absDir, basename(partial));
      for (const created of createdDirs) await Deno.remove(created).catch(() => {});
    }
  }
}

/** The directories from `dir` up to its first existing ancestor that do not exist, deepest first. */
async function missingDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = dir; !await pathExists(d); d = dirname(d)) missing.push(d);
  return missing;
}

/** Removes the temp output `name` in `dir` and deno's own `<name>.tmp-*` beside it (left when killed). */
async function removeLeftovers(dir: string, name: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name === name || entry.name.startsWith(`${name}.tmp-`)) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
      }
    }
  } catch { /* the directory is not there: nothing was written */ }
}

/** The one-line error for a failed `deno compile`; deno's whole stderr tail goes to the debug log. */
function compileFailure(err: ToolError, target: Target, denort: DenortSource): UserError {
  log.debug(`deno compile stderr:\n${err.stderrTail}`);
  const { error, cause } = denoError(err.stderrTail);
  if (denort.kind === "download" && /dl\.deno\.land|base binary/i.test(err.stderrTail)) {
    const url = err.stderrTail.match(/https:\/\/dl\.deno\.land\/[^\s)]+/)?.[0] ?? "dl.deno.land";
    return new UserError(
      `deno compile needs its runtime base (denort) from the internet or DENORT_BIN: DENORT_BIN ` +
        `is not set, "${denort.cachePath}" does not exist, and downloading ${url} failed` +
        `${cause ? ` (${cause})` : ""}; set DENORT_BIN to the denort binary of Deno ` +
        `${Deno.version.deno} for ${target.triple}`,
    );
  }
  const detail = [error, cause].filter(Boolean).join(": ") || `exit code ${err.code}`;
  return new UserError(
    `deno compile failed for ${target.triple} (exit code ${err.code}): ${detail}`,
  );
}

/**
 * deno's error from its stderr: the `error: ...` line and the innermost entry of the
 * `Caused by:` list that follows it, without colours and without the `Stack backtrace:` that
 * `RUST_BACKTRACE=1` adds.
 */
function denoError(stderr: string): { error?: string; cause?: string } {
  // deno-lint-ignore no-control-regex
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const at = lines.findLastIndex((line) => line.startsWith("error: "));
  if (at < 0) {
    const last = lines.map((l) => l.trim()).filter((l) => l && !/^\d+: <unknown>$/.test(l));
    return { error: last.filter((l) => l !== "Stack backtrace:").at(-1) };
  }
  const error = lines[at].slice("error: ".length).trim();
  let cause: string | undefined;
  if (lines[at + 1]?.trim() === "" && lines[at + 2]?.trim() === "Caused by:") {
    for (const line of lines.slice(at + 3)) {
      if (!/^\s+\S/.test(line)) break;
      cause = line.trim().replace(/^\d+: /, "");
    }
  }
  return { error, cause };
}

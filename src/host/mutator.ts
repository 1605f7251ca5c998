/**
 * The one gate for host mutations (k0sctl's `Wet`): every file write, removal
 * and state-changing command goes through a {@link HostMutator}, so
 * `--dry-run` prints the plan and changes nothing. Paths are host paths
 * (`/etc/k0s/k0s.yaml`, the table in `paths.ts`); the mutator is also the one
 * resolver of host paths to real ones ({@link HostMutator.mapPath}, under
 * `K0RDENTD_ROOT`), for reads as well as writes.
 */
import { replaceFileWith, writeFileAtomic } from "../fsx/atomic_write.ts";
import { log } from "../log/logger.ts";
import { runChecked, type Runner, type RunOptions, type RunResult } from "../process/runner.ts";
import { hostPath } from "./paths.ts";

/** Options of {@link HostMutator.writeFile}. */
export interface WriteOptions {
  /** File mode; default 0o644. Anything holding a secret uses 0o600. */
  mode?: number;
  /** Mode of parent directories created on the way; default 0o755. */
  dirMode?: number;
  /** k0rdentd's own bookkeeping: not listed as a change (still not written under dry-run). */
  bookkeeping?: boolean;
}

/** What {@link HostMutator.writeFile} did (or would do). */
export type WriteOutcome = "created" | "updated" | "unchanged";

/** Performs host mutations, or records them as a plan under `--dry-run`. */
export class HostMutator {
  /** Every change made or planned, in order, as one line each. */
  readonly changes: string[] = [];

  /**
   * `mapPath` maps host paths to real ones; default {@link hostPath} (`K0RDENTD_ROOT`).
   * Code with a mutator resolves every host path through it (never through `hostPath`), so
   * in-process tests pass their own instead of setting the process-wide variable.
   */
  constructor(
    readonly runner: Runner,
    readonly dryRun: boolean,
    readonly mapPath: (path: string) => string = hostPath,
  ) {}

  #note(line: string): void {
    this.changes.push(line);
    if (this.dryRun) log.info(`Would ${line}`);
    else log.debug(line);
  }

  /**
   * Writes `data` to host path `path` atomically unless it already holds
   * exactly that content and mode.
   */
  async writeFile(path: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<
    WriteOutcome
  > {
    const mode = options.mode ?? 0o644;
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    if (await this.matches(path, bytes, mode)) return "unchanged";
    const outcome = await readIfExists(this.mapPath(path)) ? "updated" : "created";
    if (!options.bookkeeping) {
      this.#note(
        `${outcome === "created" ? "write" : "update"} ${path} (${bytes.length} bytes, mode ${
          mode.toString(8).padStart(4, "0")
        })`,
      );
    }
    if (!this.dryRun) {
      await writeFileAtomic(this.mapPath(path), bytes, {
        mode,
        mkdirMode: options.dirMode ?? 0o755,
      });
    }
    return outcome;
  }

  /** True when host path `path` holds exactly `data` with mode `mode` (nothing to write). */
  async matches(path: string, data: string | Uint8Array, mode = 0o644): Promise<boolean> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const existing = await readIfExists(this.mapPath(path));
    return existing !== null && existing.mode === mode && sameBytes(existing.bytes, bytes);
  }

  /**
   * Installs a file (a binary) at host path `path` that `produce` writes at the real temp path it
   * is given, beside the target, then renamed (parents created 0755): a half-written file is
   * never visible. `line` is the plan line; under dry-run nothing is produced.
   */
  async installFile(
    path: string,
    line: string,
    produce: (temp: string) => Promise<unknown>,
  ): Promise<void> {
    await this.wet(line, () => replaceFileWith(this.mapPath(path), produce, { mkdirMode: 0o755 }));
  }

  /** Removes host path `path` (recursively for directories); absent paths are not an error. */
  async remove(path: string): Promise<boolean> {
    try {
      await Deno.lstat(this.mapPath(path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    }
    this.#note(`remove ${path}`);
    if (!this.dryRun) await Deno.remove(this.mapPath(path), { recursive: true });
    return true;
  }

  /**
   * Runs a command that changes the host; throws a ToolError unless it
   * exits 0. Under dry-run it only records the plan and returns an empty
   * success. `display` replaces argv in the plan when argv is long.
   */
  async run(
    argv: readonly string[],
    options: RunOptions & { display?: string } = {},
  ): Promise<RunResult> {
    this.#note(`run ${options.display ?? argv.join(" ")}`);
    if (this.dryRun) return { code: 0, stdout: "", stderrTail: "", timedOut: false };
    return await runChecked(this.runner, argv, options);
  }

  /** Performs any other change described by `line`, unless dry-run. */
  async wet<T>(line: string, action: () => Promise<T>): Promise<T | undefined> {
    this.#note(line);
    return this.dryRun ? undefined : await action();
  }
}

/** A dry run's plan as text: a header, then one `Would ...` line per recorded change. */
export function formatPlan(changes: readonly string[]): string {
  const header = changes.length === 0
    ? "Dry run: nothing to change"
    : `Dry run: ${changes.length} change(s) planned, nothing was changed`;
  return [header, ...changes.map((c) => `  Would ${c}`)].join("\n");
}

async function readIfExists(path: string): Promise<{ bytes: Uint8Array; mode: number } | null> {
  try {
    const [bytes, info] = await Promise.all([Deno.readFile(path), Deno.stat(path)]);
    return { bytes, mode: (info.mode ?? 0) & 0o7777 };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

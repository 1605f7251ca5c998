/**
 * The `helm` command-line wrapper: reads release state (read-only, through
 * the {@link Runner}) and runs installs and uninstalls through the
 * {@link HostMutator} so dry-run holds.
 */
import { ToolError } from "../errors.ts";
import type { HostMutator } from "../host/mutator.ts";
import type { Runner } from "../process/runner.ts";

/** One release as `helm list -o json` reports it. */
export interface HelmRelease {
  name: string;
  namespace: string;
  status: string;
  chart: string;
  app_version?: string;
  revision?: string;
}

/** Options of {@link HelmCli}. */
export interface HelmCliOptions {
  runner: Runner;
  host: HostMutator;
  /** The helm program (a path or a name on PATH). */
  binary: string;
  /** Per-command timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Environment for helm, e.g. `KUBECONFIG`. */
  env?: Record<string, string>;
}

/** Runs helm. */
export class HelmCli {
  readonly #opts: HelmCliOptions;

  constructor(options: HelmCliOptions) {
    this.#opts = options;
  }

  /** The helm program. */
  get binary(): string {
    return this.#opts.binary;
  }

  #runOpts() {
    return { timeoutMs: this.#opts.timeoutMs, signal: this.#opts.signal, env: this.#opts.env };
  }

  /** The release `name` in `namespace`, or null when helm knows none. */
  async release(name: string, namespace: string): Promise<HelmRelease | null> {
    const argv = [this.binary, "list", "-n", namespace, "--all", "-o", "json"];
    const result = await this.#opts.runner.run(argv, this.#runOpts());
    if (result.timedOut || result.code !== 0) {
      throw new ToolError(argv, result.code, result.stderrTail);
    }
    let list: HelmRelease[];
    try {
      list = JSON.parse(result.stdout || "[]") as HelmRelease[];
    } catch {
      throw new ToolError(
        argv,
        result.code,
        result.stdout.slice(-400),
        "helm list printed no JSON",
      );
    }
    return list.find((r) => r.name === name) ?? null;
  }

  /**
   * Runs `helm <args>` as a change (upgrade --install, uninstall); `args`
   * come from the values generator and never hold secrets.
   */
  async change(args: readonly string[]): Promise<void> {
    await this.#opts.host.run([this.binary, ...args], this.#runOpts());
  }
}

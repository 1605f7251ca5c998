/**
 * The `k0s` command-line wrapper: argv builders for every k0s command we use
 * (pure), read-only queries through the {@link Runner}, and state-changing
 * commands through the {@link HostMutator} so dry-run holds. Also parses
 * `k0s status` in its text and JSON forms.
 */
import { ToolError } from "../errors.ts";
import type { HostMutator } from "../host/mutator.ts";
import { HOST } from "../host/paths.ts";
import { runChecked, type Runner, type RunResult } from "../process/runner.ts";

/** What `k0s status` reports about a running k0s. */
export interface K0sStatus {
  version: string;
  pid: number;
  role: string;
  workloads: boolean;
  singleNode: boolean;
  /** Kube-api probing successful (only reported when workloads run here). */
  apiProbeOk: boolean;
  apiProbeError: string;
  initSystem: string;
  serviceFile: string;
}

/** Options of `k0s install controller|worker`. */
export interface K0sInstallOptions {
  role: "controller" | "worker";
  /** Config file (controllers). */
  configPath?: string;
  /** Run workloads on a controller. */
  enableWorker?: boolean;
  /** Leave the controller+worker node untainted. */
  noTaints?: boolean;
  /** Join token file (joining nodes). */
  tokenFile?: string;
  /** Extra raw arguments, appended last. */
  extraArgs?: readonly string[];
}

/** Builds `k0s install ...` argv (without the program). */
export function installArgs(options: K0sInstallOptions): string[] {
  const args = ["install", options.role];
  if (options.enableWorker) args.push("--enable-worker");
  if (options.noTaints) args.push("--no-taints");
  if (options.tokenFile) args.push("--token-file", options.tokenFile);
  if (options.configPath) args.push("-c", options.configPath);
  return [...args, ...(options.extraArgs ?? [])];
}

/** Builds `k0s token create ...` argv (without the program). */
export function tokenCreateArgs(role: "controller" | "worker", expiry?: string): string[] {
  return ["token", "create", `--role=${role}`, ...(expiry ? [`--expiry=${expiry}`] : [])];
}

/**
 * Builds `k0s airgap list-images [-c FILE]` argv (without the program). k0s prints one image a
 * line: the images its version needs for that config (k0s cmd/airgap/listimages.go).
 */
export function listImagesArgs(configFile?: string): string[] {
  return ["airgap", "list-images", ...(configFile ? ["-c", configFile] : [])];
}

/** The image references of `k0s airgap list-images` output (blank lines dropped). */
export function parseImageList(stdout: string): string[] {
  return stdout.split("\n").map((line) => line.trim()).filter(Boolean);
}

function parseBool(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === "true";
}

/** Parses the text of `k0s status`. */
export function parseStatusText(text: string): K0sStatus {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at > 0) fields.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim());
  }
  return {
    version: fields.get("version") ?? "",
    pid: Number(fields.get("process id") ?? 0) || 0,
    role: fields.get("role") ?? "",
    workloads: parseBool(fields.get("workloads")),
    singleNode: parseBool(fields.get("singlenode")),
    apiProbeOk: parseBool(fields.get("kube-api probing successful")),
    apiProbeError: fields.get("kube-api probing last error") ?? "",
    initSystem: fields.get("init system") ?? "",
    serviceFile: fields.get("service file") ?? "",
  };
}

/** Parses `k0s status -o json`; throws on text that is not a status object. */
export function parseStatusJson(text: string): K0sStatus {
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (typeof raw !== "object" || raw === null || typeof raw.Version !== "string") {
    throw new Error("not a k0s status object");
  }
  const probe = (raw.WorkerToAPIConnectionStatus ?? {}) as Record<string, unknown>;
  return {
    version: raw.Version,
    pid: Number(raw.Pid ?? 0) || 0,
    role: String(raw.Role ?? ""),
    workloads: raw.Workloads === true,
    singleNode: raw.SingleNode === true,
    apiProbeOk: probe.Success === true,
    apiProbeError: String(probe.Message ?? ""),
    initSystem: String(raw.SysInit ?? ""),
    serviceFile: String(raw.StubFile ?? ""),
  };
}

/**
 * Limit of one read (`version`, `status`, `kubectl get`): readiness waits poll with these, and a
 * hanging read must not stretch a 5 minute wait to the 10 minute command limit.
 */
export const READ_TIMEOUT_MS = 60_000;

/** Options of {@link K0sCli}. */
export interface K0sCliOptions {
  runner: Runner;
  host: HostMutator;
  /** The k0s binary as a host path; default `/usr/local/bin/k0s`. */
  binary?: string;
  /**
   * A k0s binary outside the host paths, run as it is (a `--k0s-binary` file, an extracted
   * copy); overrides `binary`.
   */
  program?: string;
  /** Per-command timeout (reads use at most {@link READ_TIMEOUT_MS}). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Runs k0s. Host paths map through the mutator's `mapPath` (`K0RDENTD_ROOT`). */
export class K0sCli {
  /** The binary as the plan shows it: the host path, or `program` as given. */
  readonly binary: string;
  readonly #opts: K0sCliOptions;

  constructor(options: K0sCliOptions) {
    this.#opts = options;
    this.binary = options.program ?? options.binary ?? HOST.k0sBinary;
  }

  /** The program path actually run (`binary` under the root prefix, or `program`). */
  get program(): string {
    return this.#opts.program ?? this.#opts.host.mapPath(this.binary);
  }

  #runOpts(stdin?: string) {
    return { timeoutMs: this.#opts.timeoutMs, signal: this.#opts.signal, stdin };
  }

  #readOpts() {
    const limit = Math.min(this.#opts.timeoutMs ?? READ_TIMEOUT_MS, READ_TIMEOUT_MS);
    return { timeoutMs: limit, signal: this.#opts.signal };
  }

  /** Runs a state-changing `k0s args...`; the plan shows the host path of the binary. */
  async #change(args: readonly string[], stdin?: string, display?: string) {
    return await this.#opts.host.run([this.program, ...args], {
      ...this.#runOpts(stdin),
      display: `${this.binary} ${display ?? args.join(" ")}`,
    });
  }

  /** True when the binary exists. */
  async installed(): Promise<boolean> {
    try {
      return (await Deno.stat(this.program)).isFile;
    } catch {
      return false;
    }
  }

  /** `k0s version`, or null when the binary is absent. */
  async version(): Promise<string | null> {
    if (!await this.installed()) return null;
    const result = await runChecked(this.#opts.runner, [this.program, "version"], this.#readOpts());
    return result.stdout.trim();
  }

  /**
   * `k0s airgap list-images [-c FILE]` (a read: needs neither root nor a running k0s). While a
   * k0s runs on this host, k0s reads that k0s's own config file instead of `configFile`
   * (k0s pkg/config/cli.go GetCmdOpts loads the runtime config first).
   */
  async listImages(configFile?: string): Promise<string[]> {
    const result = await runChecked(
      this.#opts.runner,
      [this.program, ...listImagesArgs(configFile)],
      this.#readOpts(),
    );
    return parseImageList(result.stdout);
  }

  /** `k0s status -o json`; null when k0s is not running (or not installed). */
  async status(): Promise<K0sStatus | null> {
    if (!await this.installed()) return null;
    const result = await this.#opts.runner.run(
      [this.program, "status", "-o", "json"],
      this.#readOpts(),
    );
    if (result.timedOut) {
      throw new ToolError(
        [this.program, "status"],
        result.code,
        result.stderrTail,
        "k0s status timed out",
      );
    }
    if (result.code !== 0) return null;
    try {
      return parseStatusJson(result.stdout);
    } catch {
      return parseStatusText(result.stdout);
    }
  }

  /** True when the k0s service is installed (its service file exists). */
  async serviceInstalled(role: "controller" | "worker" = "controller"): Promise<boolean> {
    const units = role === "controller"
      ? [HOST.k0sControllerUnit, HOST.k0sControllerInitScript]
      : [HOST.k0sWorkerUnit, HOST.k0sWorkerInitScript];
    for (const unit of units) if (await this.#exists(unit)) return true;
    return false;
  }

  /** True when host path `path` exists (a dangling symlink counts). */
  async #exists(path: string): Promise<boolean> {
    try {
      await Deno.lstat(this.#opts.host.mapPath(path));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * True when systemd runs or is restarting a k0s service that `k0s status` cannot reach: a k0s
   * that died comes back within 10 s (`Restart=always`, `RestartSec=10`: k0sproject/k0s
   * v1.32.8+k0s.0 pkg/install/linux_systemd.go), also during a `k0s reset`, which only refuses a
   * k0s whose status socket answers (cmd/reset/reset.go) and does not stop the unit it disables
   * (kardianos/service v1.2.2 service_systemd_linux.go Uninstall). `k0s stop` stops such a unit:
   * its Status counts `systemctl is-active` saying `active` or `activating` as running. False
   * without a systemd unit of k0s or without systemctl.
   */
  async serviceStarting(): Promise<boolean> {
    for (const unit of [HOST.k0sControllerUnit, HOST.k0sWorkerUnit]) {
      if (!await this.#exists(unit)) continue;
      try {
        const name = unit.slice(unit.lastIndexOf("/") + 1);
        const result = await this.#opts.runner.run(
          ["systemctl", "is-active", name],
          this.#readOpts(),
        );
        return /^activ(e|ating)\b/.test(result.stdout.trim());
      } catch {
        return false;
      }
    }
    return false;
  }

  /** `k0s install controller|worker ...` (mutation). */
  async install(options: K0sInstallOptions): Promise<void> {
    await this.#change(installArgs(options));
  }

  /** `k0s start` (mutation). */
  async start(): Promise<void> {
    await this.#change(["start"]);
  }

  /** `k0s stop` (mutation). */
  async stop(): Promise<void> {
    await this.#change(["stop"]);
  }

  /** `k0s reset` (mutation). */
  async reset(): Promise<void> {
    await this.#change(["reset"]);
  }

  /** `k0s token create` (mutation: it stores a token in the cluster); returns the token. */
  async createToken(role: "controller" | "worker", expiry?: string): Promise<string> {
    const result = await this.#change(tokenCreateArgs(role, expiry));
    return result.stdout.trim();
  }

  /** `k0s token invalidate <id>` (mutation): the join token with that id stops working. */
  async invalidateToken(id: string): Promise<void> {
    await this.#change(["token", "invalidate", id]);
  }

  /** `k0s kubectl ...` for reads: returns the result even when it failed. */
  async kubectl(args: readonly string[]): Promise<RunResult> {
    if (!await this.installed()) {
      return { code: 127, stdout: "", stderrTail: "k0s is not installed", timedOut: false };
    }
    return await this.#opts.runner.run([this.program, "kubectl", ...args], this.#readOpts());
  }

  /** `k0s kubectl ...` that changes the cluster (mutation); `stdin` carries manifests and secrets. */
  async kubectlApply(args: readonly string[], stdin?: string, display?: string): Promise<void> {
    await this.#change(["kubectl", ...args], stdin, display && `kubectl ${display}`);
  }
}

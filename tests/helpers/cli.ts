/** Runs `main.ts` as a subprocess with the compiled binary's permission flags, for end-to-end CLI tests. */
import { fileURLToPath } from "node:url";
import { BINARY_PERMISSIONS } from "../../src/permissions.ts";

/** The repository's `main.ts`. */
export const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** What a CLI run left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** Peak resident memory of the process (VmHWM), when `measureRss` was asked for. */
  peakRssBytes?: number;
}

/** Options of {@link runCli}. */
export interface CliOptions {
  /** Environment added to a clean one (PATH and HOME are kept; K0RDENTD_* from the host are not). */
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
  /** Sample the process's VmHWM from /proc every 10 ms (its high-water mark, so none is missed but the last ms). */
  measureRss?: boolean;
}

/** A running CLI process. */
export interface CliProcess {
  pid: number;
  kill(signal: Deno.Signal): void;
  /** Settles when the process exits. */
  result: Promise<CliResult>;
}

/** Starts `deno run <BINARY_PERMISSIONS> main.ts ...args`; see {@link runCli}. */
export function spawnCli(args: string[], options: CliOptions = {}): CliProcess {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    ...options.env,
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...BINARY_PERMISSIONS, MAIN_TS, ...args],
    env,
    clearEnv: true,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  let running = true;
  const sampler = options.measureRss
    ? (async () => {
      while (running) {
        try {
          const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
          peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024);
        } catch { /* exited */ }
        await new Promise((r) => setTimeout(r, 10));
      }
    })()
    : undefined;
  const result = (async () => {
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const out = await child.output();
    running = false;
    await sampler;
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      ...(options.measureRss ? { peakRssBytes: peak } : {}),
    };
  })();
  return { pid: child.pid, kill: (signal) => child.kill(signal), result };
}

/** Runs `deno run <BINARY_PERMISSIONS> main.ts ...args` and collects its output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).result;
}

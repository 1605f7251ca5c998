/**
 * The one seam for running external programs: the only user of `Deno.Command`.
 * Wrappers for k0s, helm, skopeo, cosign and kubectl build argv and call a
 * {@link Runner}; tests pass the fake from `fake_runner.ts`.
 */
import { ToolError } from "../errors.ts";

/** What to run. `argv[0]` is the program. */
export interface RunOptions {
  /** Bytes or text written to the program's stdin (secrets go here, never on argv). */
  stdin?: string | Uint8Array;
  /** Extra environment variables. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the program after this many milliseconds. */
  timeoutMs?: number;
  /** Abort (SIGINT handling): kills the program. */
  signal?: AbortSignal;
}

/** What a finished program left behind. */
export interface RunResult {
  code: number;
  stdout: string;
  /** The last lines of stderr (at most {@link STDERR_TAIL_BYTES}). */
  stderrTail: string;
  timedOut: boolean;
}

/** Runs programs. */
export interface Runner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

/** How much of stderr a result keeps. */
export const STDERR_TAIL_BYTES = 4096;

/** Runs `argv` and throws a {@link ToolError} unless it exits 0. */
export async function runChecked(
  runner: Runner,
  argv: readonly string[],
  options?: RunOptions,
): Promise<RunResult> {
  const result = await runner.run(argv, options);
  if (result.timedOut) {
    throw new ToolError(
      argv,
      result.code,
      result.stderrTail,
      `Command "${argv.join(" ")}" timed out after ${options?.timeoutMs} ms`,
    );
  }
  if (result.code !== 0) throw new ToolError(argv, result.code, result.stderrTail);
  return result;
}

/** The real runner, on `Deno.Command`. */
export class ProcessRunner implements Runner {
  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const [program, ...args] = argv;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        cwd: options.cwd,
        env: options.env,
        stdin: options.stdin === undefined ? "null" : "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        const where = program.includes("/") ? "no such file" : "not found on PATH";
        throw new ToolError(argv, 127, "", `Cannot run "${program}": ${where}`);
      }
      throw err;
    }
    let timedOut = false;
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    };
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener("abort", kill, { once: true });
    try {
      if (options.stdin !== undefined) {
        const writer = child.stdin.getWriter();
        const data = typeof options.stdin === "string"
          ? new TextEncoder().encode(options.stdin)
          : options.stdin;
        await writer.write(data).catch(() => {});
        await writer.close().catch(() => {});
      }
      const [stdout, stderr, status] = await Promise.all([
        new Response(child.stdout).text(),
        readTail(child.stderr),
        child.status,
      ]);
      return { code: status.code, stdout, stderrTail: stderr, timedOut };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", kill);
    }
  }
}

async function readTail(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let tail = "";
  for await (const chunk of stream) {
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_BYTES);
  }
  return tail;
}

/** A running program whose stdin and stdout are streams (e.g. `pigz -dc` in a pipeline). */
export interface StreamingProcess {
  stdin: WritableStream<Uint8Array>;
  stdout: ReadableStream<Uint8Array>;
  /** Settles when the program exits: its code and the tail of its stderr. */
  status: Promise<{ code: number; stderrTail: string }>;
  /** Kills the program (idempotent). */
  kill(): void;
}

/**
 * Starts `argv` with piped stdin and stdout for streaming work. Returns `undefined`
 * when the program is not installed (or running programs is not permitted), so callers
 * can fall back to an in-process implementation.
 */
export function spawnStreaming(
  argv: readonly string[],
  options: { signal?: AbortSignal } = {},
): StreamingProcess | undefined {
  const [program, ...args] = argv;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotCapable) {
      return undefined;
    }
    throw err;
  }
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  options.signal?.addEventListener("abort", kill, { once: true });
  const status = Promise.all([readTail(child.stderr), child.status]).then(([tail, s]) => {
    options.signal?.removeEventListener("abort", kill);
    return { code: s.code, stderrTail: tail };
  });
  return { stdin: child.stdin, stdout: child.stdout, status, kill };
}

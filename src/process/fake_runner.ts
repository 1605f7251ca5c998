/**
 * A fake {@link Runner} for tests: answers argv patterns with canned results
 * and records every call (argv, stdin). Used where the real tool (k0s, helm,
 * kubectl, cosign, systemd) cannot run on a test machine.
 */
import type { Runner, RunOptions, RunResult } from "./runner.ts";

/** One recorded call. */
export interface RecordedCall {
  argv: string[];
  stdin?: string;
  env?: Record<string, string>;
}

/** An answer: a fixed result or a function of the call. */
export type FakeAnswer =
  | Partial<RunResult>
  | ((call: RecordedCall) => Partial<RunResult> | Promise<Partial<RunResult>>);

/** Matches argv joined by spaces: a RegExp, or a string prefix. */
export type ArgvPattern = RegExp | string;

/** The fake runner. Unmatched calls fail with exit 127 so a test notices them. */
export class FakeRunner implements Runner {
  readonly calls: RecordedCall[] = [];
  readonly #rules: { pattern: ArgvPattern; answer: FakeAnswer }[] = [];

  /** Answers calls whose argv matches `pattern`; later rules win. */
  on(pattern: ArgvPattern, answer: FakeAnswer): this {
    this.#rules.unshift({ pattern, answer });
    return this;
  }

  /** Recorded argv lines, joined by spaces. */
  get commandLines(): string[] {
    return this.calls.map((c) => c.argv.join(" "));
  }

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const stdin = options.stdin === undefined
      ? undefined
      : typeof options.stdin === "string"
      ? options.stdin
      : new TextDecoder().decode(options.stdin);
    const call: RecordedCall = { argv: [...argv], stdin, env: options.env };
    this.calls.push(call);
    const line = argv.join(" ");
    const rule = this.#rules.find(({ pattern }) =>
      typeof pattern === "string"
        ? line === pattern || line.startsWith(pattern + " ")
        : pattern.test(line)
    );
    if (!rule) {
      return {
        code: 127,
        stdout: "",
        stderrTail: `fake runner: no answer for "${line}"`,
        timedOut: false,
      };
    }
    const answer = typeof rule.answer === "function" ? await rule.answer(call) : rule.answer;
    return { code: 0, stdout: "", stderrTail: "", timedOut: false, ...answer };
  }
}

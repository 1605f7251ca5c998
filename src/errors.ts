/** Error families of the CLI: usage errors (exit 2), user errors (exit 1) and tool errors. */

/** Exit codes used by the CLI. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unexpected: 70,
  interrupted: 130,
} as const;

/** A mistake in how the command was called: wrong flag, missing argument. Exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** An expected failure the user can fix: bad config, missing file. Exit 1, one line, no stack. */
export class UserError extends Error {
  override name = "UserError";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** An external tool (k0s, helm, skopeo, ...) failed; carries what the user never saw. */
export class ToolError extends UserError {
  override name = "ToolError";
  constructor(
    readonly argv: readonly string[],
    readonly code: number,
    readonly stderrTail: string,
    message?: string,
  ) {
    super(
      message ??
        `Command "${argv.join(" ")}" failed with exit code ${code}${
          stderrTail.trim() ? `: ${stderrTail.trim().split("\n").slice(-5).join(" | ")}` : ""
        }`,
    );
  }
}

/**
 * An expected failure the command has already reported on stdout (e.g. `status` printed
 * "Not healthy: ..."): exit 1 without printing it again.
 */
export class ReportedFailure extends Error {
  override name = "ReportedFailure";
}

/** The user interrupted the work (SIGINT); exit 130. */
export class CancelledError extends Error {
  override name = "CancelledError";
  constructor(message = "Cancelled") {
    super(message);
  }
}

/** Returns the message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a failed `fetch` says, with the cause Deno keeps apart ("fetch failed": "client error
 * (Connect): tcp connect error: Connection refused"), without the URL.
 */
export function fetchErrorMessage(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined
    ? errorMessage(err.cause).replace(/^error sending request for url \([^)]*\): /, "")
    : "";
  return cause ? `${errorMessage(err)}: ${cause}` : errorMessage(err);
}

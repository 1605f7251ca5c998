/** Join tokens: expiry validation, creating them on a controller, reading them from files. */
import { errorMessage, UsageError, UserError } from "../errors.ts";
import type { K0sCli, K0sStatus } from "../k0s/k0s_cli.ts";

/** Roles a node joins as. */
export type JoinRole = "controller" | "worker";

/** Where a joining node keeps its token for the k0s service: `/etc/k0s/<role>-token`. */
export function joinTokenPath(role: JoinRole): string {
  return `/etc/k0s/${role}-token`;
}

/** Default lifetime of a created token. */
export const DEFAULT_TOKEN_EXPIRY = "24h";

/** A Go duration as k0s parses `--expiry`: `30m`, `24h`, `1h30m`, `90s`. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** Returns `value` when it is a positive Go duration, else throws a UsageError naming `flag`. */
export function checkExpiry(value: string, flag = "--expiry"): string {
  if (!GO_DURATION.test(value) || !/[1-9]/.test(value)) {
    throw new UsageError(`Invalid ${flag} "${value}": expected a duration such as 24h or 90m`);
  }
  return value;
}

/** True when k0s runs as a controller here (`controller` or `controller+worker`). */
export function isController(status: K0sStatus | null): boolean {
  return status?.role.startsWith("controller") ?? false;
}

/** Creates a `role` join token with `k0s token create` on this controller (not under dry-run). */
export async function createJoinToken(
  k0s: K0sCli,
  role: JoinRole,
  expiry: string,
): Promise<string> {
  const token = await k0s.createToken(role, expiry);
  if (token === "" || /\s/.test(token)) {
    throw new UserError(`k0s token create --role=${role} did not print a token`);
  }
  return token;
}

/** Reads a join token file: trimmed, non-empty, one line. Errors name the file, never the token. */
export async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new UserError(`Cannot read join token file "${path}": ${errorMessage(err)}`);
  }
  const token = text.trim();
  if (token === "" || /\s/.test(token)) {
    const joinConfig = /^join:/m.test(text) ? `; "${path}" is a join config: pass it with -c` : "";
    throw new UserError(
      `Cannot use join token file "${path}": expected one token (from k0s token create)${joinConfig}`,
    );
  }
  return token;
}

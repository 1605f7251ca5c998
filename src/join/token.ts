/**
 * Join tokens: expiry validation, creating and invalidating them on a controller, reading them
 * from files.
 */
import { parse } from "yaml";
import { errorMessage, UsageError, UserError } from "../errors.ts";
import { HOST } from "../host/paths.ts";
import type { K0sCli, K0sStatus } from "../k0s/k0s_cli.ts";
import { log } from "../log/logger.ts";
import { readLimited } from "../registry/limits.ts";

/** Roles a node joins as. */
export type JoinRole = "controller" | "worker";

/** Where a joining node keeps its token for the k0s service: `/etc/k0s/<role>-token`. */
export function joinTokenPath(role: JoinRole): string {
  return `${HOST.k0sEtc}/${role}-token`;
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

/** A join token's kubeconfig read at most (a real one is a few KiB). */
const MAX_KUBECONFIG_BYTES = 1024 * 1024;

/** A Kubernetes bootstrap token, `<id>.<secret>`. */
const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.[a-z0-9]{16}$/;

/**
 * The id of a k0s join token, which `k0s token list` shows and `k0s token invalidate` takes.
 * A token is the base64 of a gzipped kubeconfig whose user token is a Kubernetes bootstrap
 * token `<id>.<secret>` (k0sctl reads the id the same way). Errors never quote the token.
 */
export async function joinTokenId(token: string): Promise<string> {
  let kubeconfig: string;
  try {
    const bytes = Uint8Array.from(atob(token), (c) => c.charCodeAt(0));
    const gunzip = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    // Bounded: a few KiB of gzip could inflate to gigabytes.
    kubeconfig = new TextDecoder().decode(
      await readLimited(gunzip, MAX_KUBECONFIG_BYTES, () => new Error("too large")),
    );
  } catch {
    throw new Error("not a k0s join token (base64 of a gzipped kubeconfig)");
  }
  let doc: unknown;
  try {
    doc = parse(kubeconfig);
  } catch {
    doc = null;
  }
  const users = (doc as { users?: { user?: { token?: unknown } }[] } | null)?.users;
  const bootstrap = users?.[0]?.user?.token;
  const match = typeof bootstrap === "string" ? BOOTSTRAP_TOKEN.exec(bootstrap) : null;
  if (!match) throw new Error("the join token's kubeconfig holds no bootstrap token <id>.<secret>");
  return match[1];
}

/** A join token created by this run, to invalidate when the run fails. */
export interface CreatedToken {
  role: JoinRole;
  token: string;
}

/**
 * Invalidates join tokens that this run created but could not hand out (best effort: a token
 * that cannot be invalidated is named in a warning with the commands to do it by hand).
 */
export async function invalidateJoinTokens(
  k0s: K0sCli,
  tokens: readonly CreatedToken[],
): Promise<void> {
  for (const { role, token } of tokens) {
    let id = "";
    try {
      id = await joinTokenId(token);
      await k0s.invalidateToken(id);
      log.info(`Invalidated the ${role} join token ${id}, which was not handed out`);
    } catch (err) {
      log.warn(
        `Cannot invalidate the ${role} join token${id ? ` ${id}` : ""}: ${
          errorMessage(err)
        }; find it with "k0s token list --role=${role}" and run "k0s token invalidate <id>"`,
      );
    }
  }
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

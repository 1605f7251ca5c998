/**
 * Who may do what: writes only from loopback clients unless an htpasswd is configured (then
 * writes need valid credentials from anywhere), `authPulls` makes reads need credentials too,
 * `readOnly` refuses every write. Runs as Hono middleware before the handlers.
 */
import type { MiddlewareHandler } from "hono";
import { RegistryError } from "../errors.ts";
import type { RegistryEnv } from "../http/context.ts";
import type { CredentialChecker } from "./htpasswd.ts";

/** The access policy of a running registry. */
export interface AccessPolicy {
  /** Set when `--htpasswd` is given. */
  credentials?: CredentialChecker;
  /** Reads need credentials too (only with `credentials`). */
  authPulls: boolean;
  /** Refuse all writes. */
  readOnly: boolean;
}

/** Realm sent in `WWW-Authenticate`. */
export const REALM = "k0rdentd-registry";

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses (and Unix sockets). */
export function isLoopback(hostname: string | undefined): boolean {
  if (hostname === undefined) return false;
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "::1" || /^127\./.test(h) || /^::ffff:127\./.test(h);
}

/** User and password of a Basic `Authorization` value, or undefined. */
function basicCredentials(header: string | undefined): [string, string] | undefined {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder().decode(Uint8Array.from(atob(m[1]), (ch) => ch.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

/** The user each authenticated request proved to be (for the access log). */
const users = new WeakMap<Request, string>();

/** The user `req` authenticated as, or undefined (no credentials needed or given). */
export function requestUser(req: Request): string | undefined {
  return users.get(req);
}

/**
 * The user whose `Authorization` on `req` the checker verified lately (recorded for the access
 * log), else undefined: then the request takes the full check of {@link accessControl}. A value
 * verified in the last seconds is matched as it came, without decoding or hashing it
 * ({@link CredentialChecker.verifiedHeader}).
 */
export function recentlyVerifiedUser(checker: CredentialChecker, req: Request): string | undefined {
  // Lower case: the runtime looks these names up without validating them.
  const header = req.headers.get("authorization");
  if (header === null) return undefined;
  const user = checker.verifiedHeader(header, basicCredentials);
  if (user !== undefined) users.set(req, user);
  return user;
}

function unauthorized(): RegistryError {
  return new RegistryError("UNAUTHORIZED", "Authentication required", undefined);
}

/** Middleware enforcing `policy`. */
export function accessControl(policy: AccessPolicy): MiddlewareHandler<RegistryEnv> {
  return async (c, next) => {
    const write = !READ_METHODS.has(c.req.method);
    if (write && policy.readOnly) {
      throw new RegistryError("UNSUPPORTED", "The registry is read-only");
    }
    const checker = policy.credentials;
    if (!checker) {
      if (write && !isLoopback(c.env?.remoteAddr?.hostname)) {
        throw new RegistryError(
          "DENIED",
          "Pushes are accepted only from this host (start the registry with --htpasswd)",
        );
      }
      return await next();
    }
    const isBase = c.req.path === "/v2/" || c.req.path === "/v2";
    const needAuth = write || policy.authPulls || isBase;
    if (!needAuth) return await next();
    const creds = basicCredentials(c.req.header("Authorization"));
    const client = c.env?.remoteAddr?.hostname;
    const user = creds ? await checker.check(creds[0], creds[1], client) : undefined;
    if (!user) throw unauthorized();
    c.set("user", user);
    users.set(c.req.raw, user);
    await next();
  };
}

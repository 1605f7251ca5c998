/** Types and helpers shared by the HTTP handlers: the app's env, validated path parameters. */
import type { Context, Hono } from "hono";
import { isDigest, parseDigest } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { checkRepositoryName } from "../names.ts";
import type { RegistryStorage } from "../storage/storage.ts";
import type { UploadSessions } from "../storage/upload_sessions.ts";

/** What the runtime's HTTP server hands each request (tests pass the same shape to `app.request`). */
export interface ConnInfo {
  remoteAddr?: { hostname: string; port?: number; transport?: string };
}

/** Hono environment of the registry app. */
export interface RegistryEnv {
  Bindings: ConnInfo;
  Variables: { user?: string };
}

/** The registry app type. */
export type RegistryApp = Hono<RegistryEnv>;

/** Request context of the registry app. */
export type RegistryContext = Context<RegistryEnv>;

/** What every handler module registers with. */
export interface HandlerDeps {
  storage: RegistryStorage;
  sessions: UploadSessions;
}

/** The client's address (what upload sessions are counted by). */
export function clientAddress(c: RegistryContext): string {
  return c.env?.remoteAddr?.hostname ?? "unknown";
}

/** Value of the `Docker-Distribution-API-Version` header on every response. */
export const API_VERSION = "registry/2.0";

/** Path prefix of a repository name: `/v2/:name` where the name may hold slashes. */
export const NAME = "/v2/:name{.+}";

/** The repository name of the request, validated (`NAME_INVALID`, 400). */
export function repoParam(c: RegistryContext): string {
  const name = c.req.param("name" as never) as string;
  checkRepositoryName(name);
  return name;
}

/** A digest path or query value, validated (`DIGEST_INVALID`, 400). */
export function digestValue(value: string | undefined): string {
  if (value === undefined || value === "") {
    throw new RegistryError("DIGEST_INVALID", "Digest is missing");
  }
  if (!isDigest(value)) parseDigest(value); // Throws DIGEST_INVALID (no parse on the hot path).
  return value;
}

/** The `n` pagination parameter: undefined when absent; `PAGINATION_NUMBER_INVALID` when bad. */
export function pageSize(c: RegistryContext): number | undefined {
  const n = c.req.query("n");
  if (n === undefined || n === "") return undefined;
  if (!/^\d{1,9}$/.test(n)) {
    throw new RegistryError("PAGINATION_NUMBER_INVALID", `Invalid page size n="${n.slice(0, 20)}"`);
  }
  return Number(n);
}

/**
 * One page of a sorted list after `last`, with the `Link` header for the next page when
 * more entries remain.
 */
export function paginate(
  c: RegistryContext,
  all: string[],
  path: string,
): string[] {
  const n = pageSize(c);
  const last = c.req.query("last");
  const after = last ? all.filter((x) => x > last) : all;
  if (n === undefined) return after;
  const page = after.slice(0, n);
  if (after.length > n && page.length > 0) {
    const next = `${path}?n=${n}&last=${encodeURIComponent(page[page.length - 1])}`;
    c.header("Link", `<${next}>; rel="next"`);
  }
  return page;
}

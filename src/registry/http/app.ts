/**
 * The registry's Hono app: common headers, access control, the API routes and the error
 * envelope. Manifest and blob reads are answered by `hot_reads.ts` before the router.
 */
import { Hono } from "hono";
import { accessControl, type AccessPolicy, REALM, recentlyVerifiedUser } from "../auth/access.ts";
import { errorMessage } from "../../errors.ts";
import { BodyReadError, errorBody, isStorageFull, RegistryError } from "../errors.ts";
import { log } from "../../log/logger.ts";
import { defaultServeLimits } from "../limits.ts";
import type { RegistryStorage } from "../storage/storage.ts";
import { UploadSessions } from "../storage/upload_sessions.ts";
import { registerBlobs } from "./blobs.ts";
import { API_VERSION, type RegistryApp, type RegistryEnv } from "./context.ts";
import { hotRead } from "./hot_reads.ts";
import { registerListing } from "./listing.ts";
import { registerManifests } from "./manifests.ts";
import { registerReferrers } from "./referrers.ts";
import { registerUploads } from "./uploads.ts";

/** Options of {@link createRegistryApp}. */
export interface RegistryAppOptions {
  storage: RegistryStorage;
  access?: AccessPolicy;
  /** Upload sessions on `storage`; default: the default limits, nothing loaded. */
  sessions?: UploadSessions;
}

function errorResponse(err: RegistryError, status = err.status): Response {
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "Docker-Distribution-API-Version": API_VERSION,
  };
  if (err.code === "UNAUTHORIZED") headers["WWW-Authenticate"] = `Basic realm="${REALM}"`;
  return new Response(errorBody(err), { status, headers });
}

/** What a failed request is answered with; `request` names it in log lines. */
type FailureHandler = (err: unknown, request?: { method: string; path: string }) => Response;

/** A full disk is logged at most this often (every push fails while it lasts). */
const STORAGE_FULL_LOG_MS = 60_000;

/**
 * Answers failed requests: the error envelope; 400 and one log line for a body that ended
 * early; 507 for a full storage (its cause logged once a minute at most); a logged 500 for a
 * bug.
 */
function failureHandler(storage: RegistryStorage): FailureHandler {
  let fullLoggedAt = -Infinity;
  return (err, request) => {
    if (err instanceof RegistryError) return errorResponse(err);
    const what = request ? `${request.method} ${request.path.slice(0, 300)}` : "request";
    if (err instanceof BodyReadError) {
      log.info(`Registry ${what} failed: ${err.message}`);
      return errorResponse(
        new RegistryError("SIZE_INVALID", "The request body ended before its Content-Length"),
      );
    }
    if (isStorageFull(err)) {
      const now = Date.now();
      if (now - fullLoggedAt >= STORAGE_FULL_LOG_MS) {
        fullLoggedAt = now;
        log.error(
          `Registry storage "${storage.location}" is full (${what}: ${errorMessage(err)}): ` +
            "writes fail with 507 until space is freed",
        );
      }
      return errorResponse(
        new RegistryError("UNKNOWN", "No space left on the registry storage"),
        507,
      );
    }
    log.error(`Registry request failed: ${err instanceof Error ? err.stack : String(err)}`);
    return errorResponse(new RegistryError("UNKNOWN", "internal error"));
  };
}

/** Builds the app serving the OCI distribution API from `storage`. */
export function createRegistryApp(options: RegistryAppOptions): RegistryApp {
  const app = new Hono<RegistryEnv>();
  const deps = {
    storage: options.storage,
    sessions: options.sessions ??
      new UploadSessions(options.storage, defaultServeLimits().uploads),
  };
  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("Docker-Distribution-API-Version", API_VERSION);
  });
  app.use(
    "*",
    accessControl(options.access ?? { authPulls: false, readOnly: false }),
  );
  app.get("/v2/", (c) => c.json({}));
  registerListing(app, deps);
  registerUploads(app, deps);
  registerBlobs(app, deps);
  registerManifests(app, deps);
  registerReferrers(app, deps);
  app.notFound(() =>
    errorResponse(new RegistryError("UNSUPPORTED", "No such API endpoint or method"), 404)
  );
  const failure = failureHandler(options.storage);
  app.onError((err, c) => failure(err, { method: c.req.method, path: c.req.path }));
  const access = options.access;
  const route = app.fetch;
  const onReadError = (err: unknown) => failure(err);
  const checker = access?.authPulls ? access.credentials : undefined;
  if (!checker) {
    // Reads need no credentials: answer the hot ones before the router and the middleware.
    app.fetch = (req, ...rest) => hotRead(req, options.storage, onReadError) ?? route(req, ...rest);
  } else {
    // Reads need credentials: the hot ones skip the router when theirs were verified lately
    // (no bcrypt); any other request, a first login and a wrong password take the full check.
    app.fetch = (req, ...rest) =>
      (recentlyVerifiedUser(checker, req) !== undefined
        ? hotRead(req, options.storage, onReadError)
        : undefined) ?? route(req, ...rest);
  }
  return app;
}

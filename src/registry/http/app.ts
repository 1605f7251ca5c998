/**
 * The registry's Hono app: common headers, access control, the API routes and the error
 * envelope. Manifest and blob reads are answered by `hot_reads.ts` before the router.
 */
import { Hono } from "hono";
import { accessControl, type AccessPolicy, REALM } from "../auth/access.ts";
import { BodyReadError, errorBody, RegistryError } from "../errors.ts";
import { log } from "../../log/logger.ts";
import type { RegistryStorage } from "../storage/storage.ts";
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
}

function errorResponse(err: RegistryError, status = err.status): Response {
  const headers: Record<string, string> = {
    "Content-Type": "application/json; charset=utf-8",
    "Docker-Distribution-API-Version": API_VERSION,
  };
  if (err.code === "UNAUTHORIZED") headers["WWW-Authenticate"] = `Basic realm="${REALM}"`;
  return new Response(errorBody(err), { status, headers });
}

/**
 * The response to a failed request: the error envelope; 400 and one log line for a body that
 * ended early; a logged 500 for a bug. `request` names the request in log lines.
 */
function failureResponse(err: unknown, request?: { method: string; path: string }): Response {
  if (err instanceof RegistryError) return errorResponse(err);
  if (err instanceof BodyReadError) {
    const what = request ? `${request.method} ${request.path.slice(0, 300)}` : "request";
    log.info(`Registry ${what} failed: ${err.message}`);
    return errorResponse(
      new RegistryError("SIZE_INVALID", "The request body ended before its Content-Length"),
    );
  }
  log.error(`Registry request failed: ${err instanceof Error ? err.stack : String(err)}`);
  return new Response(
    JSON.stringify({ errors: [{ code: "UNKNOWN", message: "internal error", detail: null }] }),
    {
      status: 500,
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Docker-Distribution-API-Version": API_VERSION,
      },
    },
  );
}

/** Builds the app serving the OCI distribution API from `storage`. */
export function createRegistryApp(options: RegistryAppOptions): RegistryApp {
  const app = new Hono<RegistryEnv>();
  const deps = { storage: options.storage };
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
  app.onError((err, c) => failureResponse(err, { method: c.req.method, path: c.req.path }));
  const access = options.access;
  if (!(access?.credentials && access.authPulls)) {
    // Reads need no credentials: answer the hot ones before the router and the middleware.
    const route = app.fetch;
    app.fetch = (req, ...rest) =>
      hotRead(req, options.storage, (err) => failureResponse(err)) ?? route(req, ...rest);
  }
  return app;
}

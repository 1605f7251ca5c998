/**
 * Wraps a listener's request handler to count every request in the {@link HttpMetrics} and write
 * its {@link AccessLog} line. Either may be off; with both off the handler is not wrapped.
 *
 * Bytes received are the request's `Content-Length` (not looked up for GET and HEAD, whose bodies
 * the registry never reads): a body sent without one (chunked, as skopeo sends upload chunks) is
 * not counted. Counting it as it streams (a transform on the body) starved
 * the event loop under load: a tag update waited for minutes behind two slow uploads
 * (tests/registry_crash_test.ts in a loaded suite), which no metric is worth.
 */
import type { AccessLog } from "./access_log.ts";
import type { HttpMetrics } from "./debug/http_metrics.ts";
import { requestUser } from "./auth/access.ts";

/** What {@link instrument} feeds. */
export interface Instruments {
  metrics?: HttpMetrics;
  accessLog?: AccessLog;
}

/** A `Content-Length` header's value; 0 when absent or not a finite number. */
function contentLength(headers: Headers): number {
  const value = headers.get("content-length");
  if (value === null) return 0;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** `handler` counted and logged; `routeOf` maps the request URL to a route index. */
export function instrument(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  routeOf: (url: string) => number,
  { metrics, accessLog }: Instruments,
): Deno.ServeHandler<Deno.NetAddr> {
  if (!metrics && !accessLog) return handler;
  // Per request: the getters read once, numbers and strings the request already has; the
  // access log stores them as they are (its lines are built later, in batches).
  const done = (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    status: number,
    res: Response | undefined,
    start: number,
  ) => {
    const end = performance.now();
    const ms = end - start;
    const url = req.url;
    const method = req.method;
    const route = routeOf(url);
    const sent = res && method !== "HEAD" ? contentLength(res.headers) : 0;
    // A GET or HEAD body is never read: its Content-Length is not looked up (a header lookup
    // is one of the larger costs here).
    metrics?.observe(
      route,
      method,
      status,
      ms / 1000,
      method === "GET" || method === "HEAD" ? 0 : contentLength(req.headers),
      sent,
    );
    accessLog?.record(
      info.remoteAddr.hostname,
      requestUser(req),
      method,
      route,
      url,
      status,
      sent,
      end,
      ms,
    );
  };
  // A response the handler returns at once (the hot reads answered from memory) is counted
  // and returned at once: no promise for the listener to wait on.
  return (req, info) => {
    const start = performance.now();
    const failed = (err: unknown): never => {
      // The listener answers 500 (its onError).
      done(req, info, 500, undefined, start);
      throw err;
    };
    let out: Response | Promise<Response>;
    try {
      out = handler(req, info);
    } catch (err) {
      return failed(err);
    }
    if (out instanceof Response) {
      done(req, info, out.status, out, start);
      return out;
    }
    return out.then((res) => {
      done(req, info, res.status, res, start);
      return res;
    }, failed);
  };
}

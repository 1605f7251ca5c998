/**
 * Wraps a listener's request handler to count every request in the {@link HttpMetrics} and write
 * its {@link AccessLog} line. Either may be off; with both off the handler is not wrapped.
 *
 * Bytes received are the request's `Content-Length`; a body sent without one (chunked, as skopeo
 * and containerd send upload chunks) is counted as it streams through a small transform, which
 * reads without a body (every GET and HEAD) never pay for.
 */
import type { AccessLog } from "./access_log.ts";
import { type HttpMetrics, repositoryOf } from "./debug/http_metrics.ts";
import { requestUser } from "./auth/access.ts";

/** What {@link instrument} feeds. */
export interface Instruments {
  metrics?: HttpMetrics;
  accessLog?: AccessLog;
}

function contentLength(headers: Headers): number {
  const value = headers.get("content-length");
  return value === null ? 0 : Number(value) || 0;
}

/** `req` with a body that counts its bytes as the handler reads them. */
function countingBody(req: Request): [Request, { bytes: number }] {
  const count = { bytes: 0 };
  const body = req.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        count.bytes += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  return [new Request(req, { body, duplex: "half" } as RequestInit), count];
}

/** `handler` counted and logged; `routeOf` maps the request URL to a route index. */
export function instrument(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  routeOf: (url: string) => number,
  { metrics, accessLog }: Instruments,
): Deno.ServeHandler<Deno.NetAddr> {
  if (!metrics && !accessLog) return handler;
  const done = (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    status: number,
    res: Response | undefined,
    start: number,
    streamed: { bytes: number } | undefined,
  ) => {
    const ms = performance.now() - start;
    const route = routeOf(req.url);
    const sent = res && req.method !== "HEAD" ? contentLength(res.headers) : 0;
    const received = streamed ? streamed.bytes : contentLength(req.headers);
    metrics?.observe(route, req.method, status, ms / 1000, received, sent);
    accessLog?.record({
      client: info.remoteAddr.hostname,
      user: requestUser(req),
      method: req.method,
      route,
      repository: repositoryOf(req.url, route),
      status,
      bytes: sent,
      durationMs: ms,
      url: req.url,
    });
  };
  return async (req, info) => {
    const start = performance.now();
    let streamed: { bytes: number } | undefined;
    if (metrics && req.body !== null && !req.headers.has("content-length")) {
      [req, streamed] = countingBody(req);
    }
    let res: Response;
    try {
      res = await handler(req, info);
    } catch (err) {
      // The listener answers 500 (its onError).
      done(req, info, 500, undefined, start, streamed);
      throw err;
    }
    done(req, info, res.status, res, start, streamed);
    return res;
  };
}

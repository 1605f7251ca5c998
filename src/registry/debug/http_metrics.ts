/**
 * Request metrics of the registry's listeners: requests by method, route pattern and status, a
 * latency histogram, bytes received and sent. The request path is classified by plain string
 * work into a fixed set of route patterns (never the raw path, so the series stay few), and one
 * series object per (route, method, status) is created on first use: a request after that
 * allocates nothing here.
 *
 * Latency is measured until the handler returns the response (its headers); a blob body streams
 * after that. Bytes received and sent are the `Content-Length` of the request and of the
 * response (a HEAD sends none; a chunked request body counts 0, see `instrument.ts`) as declared: a download the client breaks off
 * still counts in full, and small generated bodies without one (JSON errors, listings) count 0.
 */
import type { Exposition } from "./exposition.ts";

/** The route patterns requests are counted by; {@link Route} indexes this list. */
export const ROUTES = [
  "/v2/",
  "/v2/_catalog",
  "/v2/<name>/tags/list",
  "/v2/<name>/manifests/<reference>",
  "/v2/<name>/blobs/<digest>",
  "/v2/<name>/blobs/uploads/",
  "/v2/<name>/blobs/uploads/<uuid>",
  "/v2/<name>/referrers/<digest>",
  "/<prefix>/<file>",
  "other",
] as const;

/** Index of a route pattern in {@link ROUTES}. */
export const Route = {
  base: 0,
  catalog: 1,
  tags: 2,
  manifests: 3,
  blobs: 4,
  uploadStart: 5,
  upload: 6,
  referrers: 7,
  files: 8,
  other: 9,
} as const;

/** Methods counted by name; anything else is "other". */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"];

/** Upper bounds of the latency histogram, in seconds. */
export const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** Where the path of an absolute request URL starts and ends (before `?`). */
function pathBounds(url: string): [number, number] {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return [url.length, url.length];
  const query = url.indexOf("?", start);
  return [start, query < 0 ? url.length : query];
}

/** The route of a registry API request URL (see {@link ROUTES}). */
export function registryRoute(url: string): number {
  const [start, end] = pathBounds(url);
  if (!url.startsWith("/v2", start)) return Route.other;
  if (end - start === 3 || end - start === 4 && url.charCodeAt(start + 3) === 47) return Route.base;
  if (url.charCodeAt(start + 3) !== 47) return Route.other;
  if (url.endsWith("/tags/list", end) && end - start > 14) return Route.tags;
  if (end - start === 12 && url.startsWith("/v2/_catalog", start)) return Route.catalog;
  const refStart = url.lastIndexOf("/", end - 1) + 1;
  const kindStart = url.lastIndexOf("/", refStart - 2) + 1;
  if (kindStart - 1 <= start + 4) return Route.other;
  const kind = url.slice(kindStart, refStart - 1);
  if (kind === "manifests" && refStart < end) return Route.manifests;
  if (kind === "blobs" && refStart < end) return Route.blobs;
  if (kind === "referrers" && refStart < end) return Route.referrers;
  if (kind === "uploads" && url.endsWith("/blobs", kindStart - 1) && kindStart - 7 > start + 4) {
    return refStart === end ? Route.uploadStart : Route.upload;
  }
  return Route.other;
}

/** The repository name of a request on `route` (undefined for routes without one). */
export function repositoryOf(url: string, route: number): string | undefined {
  if (route < Route.tags || route > Route.referrers) return undefined;
  const [start, end] = pathBounds(url);
  let nameEnd: number;
  if (route === Route.tags) nameEnd = end - "/tags/list".length;
  else {
    const refStart = url.lastIndexOf("/", end - 1) + 1;
    nameEnd = url.lastIndexOf("/", refStart - 2);
    if (route === Route.upload || route === Route.uploadStart) nameEnd -= "/blobs".length;
  }
  return url.slice(start + 4, Math.min(nameEnd, start + 4 + 256));
}

function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "PATCH":
      return 4;
    case "DELETE":
      return 5;
    case "OPTIONS":
      return 6;
    default:
      return 7;
  }
}

/** The counters of one (route, method, status). */
class Series {
  count = 0;
  seconds = 0;
  received = 0;
  sent = 0;
  /** Requests per latency bucket (not cumulative); the last one is `+Inf`. */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  constructor(readonly route: number, readonly method: number, readonly status: number) {}
}

/** Request counters of every listener of one daemon. */
export class HttpMetrics {
  #series = new Map<number, Series>();

  /** Counts one answered request. */
  observe(
    route: number,
    method: string,
    status: number,
    seconds: number,
    received: number,
    sent: number,
  ): void {
    const m = methodIndex(method);
    const key = (route * 8 + m) * 1000 + status;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new Series(route, m, status);
      this.#series.set(key, s);
    }
    s.count++;
    s.seconds += seconds;
    s.received += received;
    s.sent += sent;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    s.buckets[i]++;
  }

  /** Requests counted so far for `route` (all methods and statuses). */
  requests(route: number): number {
    let n = 0;
    for (const s of this.#series.values()) if (s.route === route) n += s.count;
    return n;
  }

  /** Adds the request families to `out`. */
  render(out: Exposition): void {
    const series = [...this.#series.values()].sort((a, b) =>
      a.route - b.route || a.method - b.method || a.status - b.status
    );
    const labels = (s: Series) => ({ method: METHODS[s.method], route: ROUTES[s.route] });
    out.family(
      "k0rdentd_registry_http_requests_total",
      "counter",
      "Requests answered, by method, route pattern and status.",
    );
    for (const s of series) {
      out.sample("k0rdentd_registry_http_requests_total", s.count, {
        ...labels(s),
        status: String(s.status),
      });
    }
    // The histogram and the byte counters by method and route: statuses summed.
    const byRoute = new Map<number, Series>();
    for (const s of series) {
      const key = s.route * 8 + s.method;
      let sum = byRoute.get(key);
      if (!sum) byRoute.set(key, sum = new Series(s.route, s.method, 0));
      sum.count += s.count;
      sum.seconds += s.seconds;
      sum.received += s.received;
      sum.sent += s.sent;
      for (let i = 0; i < s.buckets.length; i++) sum.buckets[i] += s.buckets[i];
    }
    const name = "k0rdentd_registry_http_request_duration_seconds";
    out.family(name, "histogram", "Time until the response headers, by method and route pattern.");
    for (const s of byRoute.values()) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += s.buckets[i];
        out.sample(`${name}_bucket`, cumulative, { ...labels(s), le: String(LATENCY_BUCKETS[i]) });
      }
      out.sample(`${name}_bucket`, s.count, { ...labels(s), le: "+Inf" });
      out.sample(`${name}_sum`, s.seconds, labels(s));
      out.sample(`${name}_count`, s.count, labels(s));
    }
    const bytes = [
      ["received", "Request body bytes (Content-Length), by method and route pattern."],
      ["sent", "Response body bytes (Content-Length), by method and route pattern."],
    ] as const;
    for (const [what, help] of bytes) {
      const family = `k0rdentd_registry_http_${what}_bytes_total`;
      out.family(family, "counter", help);
      for (const s of byRoute.values()) out.sample(family, s[what], labels(s));
    }
  }
}

import assert from "node:assert/strict";
import { Exposition } from "./exposition.ts";
import { HttpMetrics, registryRoute, repositoryOf, Route, ROUTES } from "./http_metrics.ts";

const D = `sha256:${"a".repeat(64)}`;
const U = "0b0e9b5e-8a4b-4a8e-9d3a-3f1f2b6c7d8e";

Deno.test("registryRoute() and repositoryOf() map tricky paths to a route pattern and name", () => {
  const cases: [string, number, string | undefined][] = [
    ["/v2/", Route.base, undefined],
    ["/v2", Route.base, undefined],
    ["/v2/_catalog?n=10", Route.catalog, undefined],
    ["/v2/a/b/tags/list", Route.tags, "a/b"],
    ["/v2/tags/tags/list", Route.tags, "tags"],
    ["/v2/a/manifests/v1?ns=docker.io", Route.manifests, "a"],
    ["/v2/a/b/c/manifests/" + D, Route.manifests, "a/b/c"],
    ["/v2/manifests/manifests/x", Route.manifests, "manifests"],
    [`/v2/a/blobs/${D}`, Route.blobs, "a"],
    ["/v2/a/b/blobs/uploads/", Route.uploadStart, "a/b"],
    [`/v2/a/b/blobs/uploads/${U}?digest=${D}`, Route.upload, "a/b"],
    ["/v2/x/blobs/uploads", Route.blobs, "x"],
    ["/v2/blobs/uploads", Route.other, undefined],
    [`/v2/a/referrers/${D}`, Route.referrers, "a"],
    ["/v2/a/manifests/", Route.other, undefined],
    ["/v2/manifests/x", Route.other, undefined],
    ["/v2x/a/manifests/v1", Route.other, undefined],
    ["/metrics", Route.other, undefined],
    ["/", Route.other, undefined],
  ];
  for (const [path, route, name] of cases) {
    const url = `http://127.0.0.1:5000${path}`;
    assert.equal(ROUTES[registryRoute(url)], ROUTES[route], path);
    assert.equal(repositoryOf(url, registryRoute(url)), name, path);
  }
});

Deno.test("HttpMetrics counts by method, route and status; the histogram is cumulative", () => {
  const m = new HttpMetrics();
  m.observe(Route.manifests, "GET", 200, 0.0004, 0, 500);
  m.observe(Route.manifests, "GET", 200, 0.003, 0, 500);
  m.observe(Route.manifests, "GET", 404, 20, 0, 0);
  m.observe(Route.upload, "PATCH", 202, 0.2, 1000, 0);
  m.observe(Route.other, "BREW", 404, 0.001, 0, 0);
  assert.equal(m.requests(Route.manifests), 3);
  const out = new Exposition();
  m.render(out);
  const text = out.text();
  const route = 'route="/v2/<name>/manifests/<reference>"';
  for (
    const line of [
      `k0rdentd_registry_http_requests_total{method="GET",${route},status="200"} 2`,
      `k0rdentd_registry_http_requests_total{method="GET",${route},status="404"} 1`,
      `k0rdentd_registry_http_requests_total{method="other",route="other",status="404"} 1`,
      `k0rdentd_registry_http_request_duration_seconds_bucket{method="GET",${route},le="0.0005"} 1`,
      `k0rdentd_registry_http_request_duration_seconds_bucket{method="GET",${route},le="0.005"} 2`,
      `k0rdentd_registry_http_request_duration_seconds_bucket{method="GET",${route},le="10"} 2`,
      `k0rdentd_registry_http_request_duration_seconds_bucket{method="GET",${route},le="+Inf"} 3`,
      `k0rdentd_registry_http_request_duration_seconds_count{method="GET",${route}} 3`,
      `k0rdentd_registry_http_sent_bytes_total{method="GET",${route}} 1000`,
      'k0rdentd_registry_http_received_bytes_total{method="PATCH",route="/v2/<name>/blobs/uploads/<uuid>"} 1000',
    ]
  ) assert.ok(text.includes(`\n${line}\n`), `missing ${line} in\n${text}`);
});

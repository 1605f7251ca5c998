import assert from "node:assert/strict";
import { type AccessEntry, AccessLog, upstreamOf } from "./access_log.ts";
import { Logger } from "../log/logger.ts";
import { Route } from "./debug/http_metrics.ts";

function collected(format: "text" | "json") {
  const writes: string[] = [];
  const logger = new Logger();
  logger.configure({
    format,
    level: "warn", // the access log is its own switch: it writes at any level
    sink: { write: (l) => writes.push(l), isTerminal: () => false },
    colour: false,
  });
  return { writes, logger };
}

const ENTRY: AccessEntry = {
  client: "10.0.0.7",
  user: "ci",
  method: "GET",
  route: Route.manifests,
  repository: "k0rdent-enterprise/kcm",
  status: 200,
  bytes: 1234,
  durationMs: 0.41234,
  url: "http://r:5000/v2/k0rdent-enterprise/kcm/manifests/v1?ns=ghcr.io",
};

Deno.test("upstreamOf() reads the ns query parameter only", () => {
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?ns=docker.io"), "docker.io");
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?x=1&ns=quay.io&y=2"), "quay.io");
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?dns=x"), undefined);
  assert.equal(upstreamOf("http://r/v2/ns=x/manifests/v1"), undefined);
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?ns=%zz"), "%zz");
});

Deno.test("AccessLog buffers lines and writes them in one go on flush", () => {
  const { writes, logger } = collected("text");
  const access = new AccessLog(logger);
  access.record(ENTRY);
  access.record({ ...ENTRY, status: 404, user: undefined });
  assert.equal(writes.length, 0);
  access.flush();
  assert.equal(writes.length, 1);
  const lines = writes[0].split("\n");
  assert.equal(lines.length, 2);
  assert.match(
    lines[0],
    /^INFO {2}access time=\S+Z client=10\.0\.0\.7 user=ci method=GET route=\/v2\/<name>\/manifests\/<reference> repository=k0rdent-enterprise\/kcm status=200 bytes=1234 duration_ms=0\.412 ns=ghcr\.io$/,
  );
  assert.doesNotMatch(lines[1], /user=/);
  access.close();
  access.record(ENTRY); // after close: written at once
  assert.equal(writes.length, 2);
});

Deno.test("AccessLog in JSON: one object per line with level, time, msg and the fields", () => {
  const { writes, logger } = collected("json");
  const access = new AccessLog(logger);
  access.record(ENTRY);
  access.record({ ...ENTRY, repository: undefined, route: Route.base, url: "http://r/v2/" });
  access.close();
  const records = writes.join("\n").split("\n").map((l) => JSON.parse(l));
  assert.equal(records.length, 2);
  assert.equal(records[0].level, "info");
  assert.equal(records[0].msg, "access");
  assert.match(records[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(records[0].status, 200);
  assert.equal(records[0].ns, "ghcr.io");
  assert.equal(records[0].user, "ci");
  assert.ok(!("repository" in records[1]) && !("ns" in records[1]));
});

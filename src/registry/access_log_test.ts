import assert from "node:assert/strict";
import { AccessLog, BATCH, CAPACITY, upstreamOf } from "./access_log.ts";
import { Logger, type LogSink } from "../log/logger.ts";
import { repositoryOf, Route, ROUTES } from "./debug/http_metrics.ts";

/** A logger on a collecting sink; `held` makes background writes wait until `release()`. */
function collected(format: "text" | "json", background = false) {
  const writes: string[] = [];
  let held: (() => void)[] | undefined;
  const sink: LogSink = { write: (l) => void writes.push(l), isTerminal: () => false };
  if (background) {
    sink.writeLater = (text) => {
      const write = () => void writes.push(text);
      if (!held) return Promise.resolve(write());
      return new Promise<void>((resolve) => held!.push(() => resolve(write())));
    };
  }
  const logger = new Logger();
  logger.configure({
    format,
    level: "warn", // the access log is its own switch: it writes at any level
    sink,
    colour: false,
  });
  return {
    writes,
    logger,
    hold: () => held = [],
    release: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const w of waiting) w();
    },
  };
}

interface Entry {
  client: string;
  user?: string;
  method: string;
  route: number;
  url: string;
  status: number;
  bytes: number;
  durationMs: number;
}

const ENTRY: Entry = {
  client: "10.0.0.7",
  user: "ci",
  method: "GET",
  route: Route.manifests,
  status: 200,
  bytes: 1234,
  durationMs: 0.41234,
  url: "http://r:5000/v2/k0rdent-enterprise/kcm/manifests/v1?ns=ghcr.io",
};

function record(log: AccessLog, e: Entry): void {
  const end = performance.now();
  log.record(e.client, e.user, e.method, e.route, e.url, e.status, e.bytes, end, e.durationMs);
}

/** The fields of `e`'s line, in the order of the line, as the logger would take them. */
function fields(e: Entry, time: string) {
  return {
    time,
    client: e.client,
    user: e.user,
    method: e.method,
    route: ROUTES[e.route],
    repository: repositoryOf(e.url, e.route),
    status: e.status,
    bytes: e.bytes,
    duration_ms: Math.round(e.durationMs * 1000) / 1000,
    ns: upstreamOf(e.url),
  };
}

/** Entries whose values need every kind of quoting and escaping, with assorted durations. */
function awkwardEntries(): Entry[] {
  const users = [undefined, "ci", "a b", 'q"uote', "x=y", "ünï", "tab\there", "nl\nx", "\u0001"];
  const urls: [number, string][] = [
    [Route.base, "http://r/v2/"],
    [Route.manifests, "http://r:5000/v2/a/b/manifests/v1"],
    [Route.blobs, "http://[::1]:5000/v2/lib/x/blobs/sha256:abc?ns=docker.io"],
    [Route.tags, "http://r/v2/a/tags/list?n=10&ns=quay.io%2Fx"],
    [Route.manifests, "http://r/v2/a/manifests/v1?ns=%22q%22%20%0A%E2%9C%93"],
    [Route.manifests, "http://r/v2/a/manifests/v1?ns=%zz"],
    [Route.files, "http://r:5003/k0s/k0s-v1.32-amd64"],
    [Route.upload, "http://r/v2/a/blobs/uploads/0d1e?ns=x=y"],
  ];
  const out: Entry[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 400; i++) {
    const [route, url] = urls[i % urls.length];
    out.push({
      client: i % 3 ? "127.0.0.1" : "::1",
      user: users[i % users.length],
      method: ["GET", "HEAD", "PUT"][i % 3],
      route,
      url,
      status: [200, 404, 500, 202][i % 4],
      bytes: i % 5 ? Math.floor(next() * 1e10) : 0,
      durationMs: [0, 0.0004, 0.0005, 1, 999.9995, 12345.6789][i % 7] ?? next() * 10 ** (i % 6),
    });
  }
  return out;
}

Deno.test("upstreamOf() reads the ns query parameter only", () => {
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?ns=docker.io"), "docker.io");
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?x=1&ns=quay.io&y=2"), "quay.io");
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?dns=x"), undefined);
  assert.equal(upstreamOf("http://r/v2/ns=x/manifests/v1"), undefined);
  assert.equal(upstreamOf("http://r/v2/a/manifests/v1?ns=%zz"), "%zz");
});

Deno.test("AccessLog text lines are the logger's own lines for the same fields, byte for byte", async () => {
  const { writes, logger } = collected("text");
  const reference = collected("text");
  const access = new AccessLog(logger);
  const entries = awkwardEntries();
  const before = Date.now();
  for (const e of entries) record(access, e);
  const after = Date.now();
  await access.close();
  const lines = writes.join("\n").split("\n");
  assert.equal(lines.length, entries.length);
  reference.logger.configure({ level: "info" });
  for (const [i, e] of entries.entries()) {
    const time = /time=(\S+)/.exec(lines[i])![1];
    const t = Date.parse(time);
    // Worked out from performance.now() at the batch: within a millisecond of the wall clock.
    assert.ok(t >= before - 1 && t <= after + 1, `${time} not in ${before}..${after}`);
    reference.logger.info("access", fields(e, new Date(t).toISOString()));
    assert.equal(lines[i], reference.writes.pop());
  }
  assert.match(
    lines[1],
    /^INFO {2}access time=\S+Z client=127\.0\.0\.1 user=ci method=HEAD route=\/v2\/<name>\/manifests\/<reference> repository=a\/b status=404 bytes=\d+ duration_ms=0$/,
  );
});

Deno.test("AccessLog JSON lines are JSON.stringify of level, time, msg and the fields, byte for byte", async () => {
  const { writes, logger } = collected("json");
  const access = new AccessLog(logger);
  const entries = awkwardEntries();
  for (const e of entries) record(access, e);
  await access.close();
  const lines = writes.join("\n").split("\n");
  assert.equal(lines.length, entries.length);
  for (const [i, e] of entries.entries()) {
    const time = JSON.parse(lines[i]).time;
    assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const { time: _, ...rest } = fields(e, time);
    assert.equal(lines[i], JSON.stringify({ level: "info", time, msg: "access", ...rest }));
  }
});

Deno.test("AccessLog writes nothing on a request until a batch is full or its timer fires, then the batch in one write, in order", async () => {
  const { writes, logger } = collected("text", true);
  const access = new AccessLog(logger);
  for (let i = 0; i < BATCH - 1; i++) record(access, { ...ENTRY, bytes: i });
  assert.equal(writes.length, 0);
  record(access, { ...ENTRY, bytes: BATCH - 1 }); // a full batch: written at once, in one write
  assert.equal(writes.length, 1);
  const bytes = writes[0].split("\n").map((l) => Number(/bytes=(\d+)/.exec(l)![1]));
  assert.deepEqual(bytes, Array.from({ length: BATCH }, (_, i) => i));
  // Fewer than a batch: written within the flush interval (200 ms).
  record(access, ENTRY);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(writes.length, 1);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(writes.length, 2);
  await access.close();
});

Deno.test("AccessLog holds at most its capacity while stderr does not take a batch, counts and reports the rest", async () => {
  const { writes, logger, hold, release } = collected("text", true);
  const access = new AccessLog(logger);
  hold();
  record(access, { ...ENTRY, bytes: 0 });
  access.flush(); // in flight, held
  for (let i = 1; i <= CAPACITY + 10; i++) record(access, { ...ENTRY, bytes: i });
  assert.equal(access.dropped, 10);
  assert.equal(writes.length, 0);
  release();
  await access.close();
  assert.equal(writes.length, 3, writes.slice(1, 2).join());
  assert.match(writes[1], /^WARN {2}Registry access log dropped 10 line\(s\): the log stream/);
  const bytes = [writes[0], writes[2]].join("\n").split("\n").map((l) =>
    Number(/bytes=(\d+)/.exec(l)![1])
  );
  assert.deepEqual(bytes, Array.from({ length: CAPACITY + 1 }, (_, i) => i));
});

Deno.test("AccessLog close() waits for the write in flight, writes the rest, and later lines at once", async () => {
  const { writes, logger, hold, release } = collected("json", true);
  const access = new AccessLog(logger);
  hold();
  record(access, ENTRY);
  access.flush();
  record(access, { ...ENTRY, status: 404 });
  let closed = false;
  const closing = access.close().then(() => closed = true);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(closed, false);
  release();
  await closing;
  assert.deepEqual(writes.map((w) => JSON.parse(w).status), [200, 404]);
  record(access, { ...ENTRY, status: 500 }); // a request that outlived the shutdown
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(JSON.parse(writes[2]).status, 500);
});

// serveListener() over real sockets: accept errors back off, the gate caps connections,
// silent and idle connections are closed, a response still streaming survives the idle close.
import assert from "node:assert/strict";
import { LogCollector } from "../../tests/helpers/log_collector.ts";
import {
  ConnectionGate,
  connectionsFitting,
  filesFor,
  openFileHeadroom,
  serveListener,
} from "./connections.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function slowBody(chunks: number, everyMs: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      await new Promise((r) => setTimeout(r, everyMs));
      c.enqueue(enc.encode("x".repeat(10)));
      if (++sent === chunks) c.close();
    },
  });
}

function handler(req: Request): Response {
  if (new URL(req.url).pathname === "/slow") return new Response(slowBody(10, 100));
  return new Response("ok");
}

function onError(): Response {
  return new Response("error", { status: 500 });
}

/** Opens a raw connection and sends `data`. */
async function open(port: number, data = ""): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (data) await conn.write(enc.encode(data));
  return conn;
}

/** Reads until the server closes the connection; the text and how long it took. */
async function readToEnd(conn: Deno.Conn): Promise<{ text: string; ms: number }> {
  const start = Date.now();
  const buf = new Uint8Array(4096);
  let text = "";
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
  } catch {
    // A reset is a close too.
  }
  conn.close();
  return { text, ms: Date.now() - start };
}

const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

Deno.test("serveListener() closes silent, half-sent and idle connections; streams finish", async () => {
  const gate = new ConnectionGate(100);
  const served = serveListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), handler, {
    gate,
    headerTimeoutMs: 300,
    idleTimeoutMs: 800,
    onError,
  });
  const port = served.addr.port;
  try {
    const [silent, half, idle, stream] = await Promise.all([
      open(port).then(readToEnd),
      open(port, "GET / HTTP/1.1\r\nHost: x\r\n").then(readToEnd),
      open(port, GET).then(readToEnd),
      open(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").then(readToEnd),
    ]);
    assert.equal(silent.text, "");
    assert.ok(silent.ms >= 250 && silent.ms < 2000, `silent closed after ${silent.ms} ms`);
    assert.equal(half.text, "");
    assert.ok(half.ms >= 250 && half.ms < 2000, `half-sent closed after ${half.ms} ms`);
    assert.match(idle.text, /^HTTP\/1\.1 200 /);
    assert.ok(idle.ms >= 700 && idle.ms < 3000, `idle closed after ${idle.ms} ms`);
    // 10 chunks of 10 bytes every 100 ms outlive the idle timeout and still arrive whole.
    assert.match(stream.text, /^HTTP\/1\.1 200 /);
    assert.ok(stream.text.endsWith("x".repeat(10) + "\r\n0\r\n\r\n"), stream.text.slice(-40));
    assert.equal(served.connections, 0);
  } finally {
    assert.equal(await served.shutdown(1000), true);
  }
});

Deno.test("serveListener() keeps serving after accept errors (Too many open files)", async () => {
  const logs = new LogCollector();
  const real = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let failures = 3;
  // The real listener, except that its first accepts fail as they do at the open-file limit.
  const flaky = new Proxy(real, {
    get(target, prop) {
      if (prop === "accept") {
        return () =>
          failures-- > 0
            ? Promise.reject(new Error("Too many open files (os error 24)"))
            : target.accept();
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const served = serveListener(flaky, handler, {
    gate: new ConnectionGate(10),
    headerTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    onError,
  });
  try {
    const res = await fetch(`http://127.0.0.1:${served.addr.port}/`);
    assert.equal(await res.text(), "ok");
    const lines = logs.lines();
    assert.equal(
      lines.filter((l) => l.includes("cannot accept connections")).length,
      1,
      "the cause is logged once, not per retry",
    );
    assert.ok(lines.some((l) => l.includes("Too many open files (os error 24); retrying")));
    assert.ok(lines.some((l) => l.includes("accepts connections again after 3 failed")));
  } finally {
    await served.shutdown(1000);
    logs.restore();
  }
});

Deno.test("serveListener() makes connections over the cap wait, and says so once", async () => {
  const logs = new LogCollector();
  const gate = new ConnectionGate(2, "raise the cap");
  const served = serveListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), handler, {
    gate,
    headerTimeoutMs: 600,
    idleTimeoutMs: 5000,
    onError,
  });
  const port = served.addr.port;
  try {
    const holders = [await open(port), await open(port), await open(port)];
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(served.connections, 2, "the third waits in the backlog");
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "ok");
    assert.ok(Date.now() - started >= 300, "the request waited for a slot");
    const warnings = logs.lines().filter((l) => l.includes("connections open, its limit"));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /Registry has 2 connections open, its limit: .*\(raise the cap\)/);
    for (const h of holders) await readToEnd(h);
  } finally {
    await served.shutdown(1000);
    logs.restore();
  }
});

Deno.test("connectionsFitting() leaves room for a blob file per connection and a reserve", () => {
  assert.equal(connectionsFitting(filesFor(300)), 300);
  assert.equal(connectionsFitting(filesFor(300) - 1), 299);
  assert.equal(connectionsFitting(10), 1);
});

Deno.test("openFileHeadroom() counts up to its bound and closes what it opened", () => {
  assert.equal(openFileHeadroom(50), 50);
  // Had it leaked, the next count would find 50 fewer descriptors under the same bound.
  assert.equal(openFileHeadroom(50), 50);
});

Deno.test("serveListener() shutdown reports a stream outliving its timeout and survives", async () => {
  const served = serveListener(Deno.listen({ hostname: "127.0.0.1", port: 0 }), handler, {
    gate: new ConnectionGate(10),
    headerTimeoutMs: 5000,
    idleTimeoutMs: 5000,
    onError,
  });
  const port = served.addr.port;
  // One connection that already went away, one streaming (1 s of body), one silent.
  const gone = await open(port, GET);
  gone.close();
  const streaming = readToEnd(await open(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  const silent = readToEnd(await open(port));
  await new Promise((r) => setTimeout(r, 250));
  assert.equal(await served.shutdown(200), false, "the stream was still running");
  // The gracefully closing stream still ends whole (in the daemon, the process exit ends it);
  // cutting the one that had gone and the silent one must not have ended this process.
  const stream = await streaming;
  assert.ok(stream.text.endsWith("0\r\n\r\n"), stream.text.slice(-20));
  assert.equal((await silent).text, "");
});

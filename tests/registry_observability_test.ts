// The registry daemon's debug listener and access log over real sockets: a scrape that
// `promtool check metrics` (Debian package prometheus) accepts, counters that move with a real
// skopeo push and pull and agree with the access log line for line, `/readyz` turning 503 while
// the daemon drains on SIGTERM, the switches that turn both off, bad --debug-address values, and
// `promtool check rules` on the alert rules shipped in deploy/prometheus/.
import { ProcessRunner } from "../src/process/runner.ts";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { freePort } from "./helpers/free_port.ts";
import { needsTools } from "./helpers/tools.ts";
import {
  type Daemon,
  debugBase,
  runRegistryCli,
  skopeo,
  startDaemon,
  tagLayout,
  writeImage,
} from "./registry_helpers.ts";

const RULES = fileURLToPath(
  new URL("../deploy/prometheus/k0rdentd-registry.rules.yml", import.meta.url),
);
const PLAIN = ["--src-tls-verify=false", "--dest-tls-verify=false"];

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text() };
}

/** The samples of a scrape: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function requests(s: Map<string, number>, method: string, route: string, status: number): number {
  return s.get(
    `k0rdentd_registry_http_requests_total{method="${method}",route="${route}",status="${status}"}`,
  ) ?? 0;
}

async function promtool(args: string[], stdin?: string) {
  const res = await new ProcessRunner().run(["promtool", ...args], { stdin });
  return { code: res.code, output: res.stdout + res.stderrTail };
}

/** Every stderr line parsed as a JSON object (fails on the first that is not one). */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l !== "").map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      assert.fail(`not a JSON line: ${line}`);
    }
  });
}

async function untilFlushed(daemon: Daemon, count: number): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 5000;
  while (true) {
    const lines = jsonLines(daemon.stderr()).filter((l) => l.msg === "access");
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test(
  await needsTools(
    "registry /metrics: promtool accepts a real scrape; counters move with a skopeo pull and match the JSON access log line for line",
    "skopeo",
    "promtool",
  ),
  async () => {
    await using work = await tempDir("registry-metrics-");
    const daemon = await startDaemon([
      "--host",
      "127.0.0.1",
      "--storage",
      join(work.path, "storage"),
      "--log-format",
      "json",
    ]);
    try {
      const reg = `127.0.0.1:${daemon.port}`;
      const debug = debugBase(daemon);
      const src = join(work.path, "src");
      const image = await writeImage(src, [300_000, 200_000]);
      await tagLayout(src, "v1", image);
      await skopeo(["copy", ...PLAIN, `oci:${src}:v1`, `docker://${reg}/team/app:v1`]);

      const before = samples((await get(`${debug}/metrics`)).body);
      // The config, two layers and the manifest (stored as a blob too).
      assert.equal(before.get("k0rdentd_registry_storage_blobs"), 4);
      await skopeo([
        "copy",
        ...PLAIN,
        `docker://${reg}/team/app:v1`,
        `oci:${join(work.path, "out")}:v1`,
      ]);
      const missing = await get(`http://${reg}/v2/team/app/manifests/nope?ns=docker.io`);
      assert.equal(missing.status, 404);

      const scrape = await get(`${debug}/metrics`);
      assert.equal(scrape.status, 200);
      const check = await promtool(["check", "metrics"], scrape.body);
      assert.equal(check.code, 0, check.output);
      const after = samples(scrape.body);
      const manifests = "/v2/<name>/manifests/<reference>";
      const blobs = "/v2/<name>/blobs/<digest>";
      assert.ok(requests(after, "GET", manifests, 200) > requests(before, "GET", manifests, 200));
      assert.equal(requests(after, "GET", manifests, 404), 1);
      // The pull fetched the config and both layers (skopeo skips none: the target is empty).
      assert.ok(requests(after, "GET", blobs, 200) - requests(before, "GET", blobs, 200) >= 3);
      const sent = (s: Map<string, number>) =>
        s.get(`k0rdentd_registry_http_sent_bytes_total{method="GET",route="${blobs}"}`) ?? 0;
      assert.ok(sent(after) - sent(before) >= 500_000, `sent ${sent(after) - sent(before)}`);
      // The manifest PUT declares its length (skopeo's chunked layer PATCHes do not: not counted).
      const received = after.get(
        `k0rdentd_registry_http_received_bytes_total{method="PUT",route="${manifests}"}`,
      ) ?? 0;
      assert.ok(received >= image.bytes.length, `received ${received}`);
      assert.ok((after.get("process_resident_memory_bytes") ?? 0) > 10_000_000);
      assert.ok(after.has("k0rdentd_event_loop_delay_max_seconds"));
      assert.equal(after.get('k0rdentd_registry_connections{listener="files"}'), 0);
      assert.equal(after.get('k0rdentd_registry_log_dropped_lines_total{log="access"}'), 0);
      assert.equal(after.get('k0rdentd_registry_log_dropped_lines_total{log="daemon"}'), 0);

      // One access line per counted request, with the same method, route and status.
      let total = 0;
      const counted = new Map<string, number>();
      for (const [key, value] of after) {
        const m =
          /^k0rdentd_registry_http_requests_total\{method="(\w+)",route="([^"]+)",status="(\d+)"\}$/
            .exec(key);
        if (!m) continue;
        counted.set(`${m[1]} ${m[2]} ${m[3]}`, value);
        total += value;
      }
      const access = await untilFlushed(daemon, total);
      assert.equal(access.length, total, JSON.stringify(access.slice(-3)));
      const logged = new Map<string, number>();
      for (const line of access) {
        const key = `${line.method} ${line.route} ${line.status}`;
        logged.set(key, (logged.get(key) ?? 0) + 1);
        assert.equal(line.client, "127.0.0.1");
        assert.equal(typeof line.duration_ms, "number");
      }
      assert.deepEqual(logged, counted);
      const miss = access.find((l) => l.status === 404 && l.route === manifests);
      assert.equal(miss?.repository, "team/app");
      assert.equal(miss?.ns, "docker.io");
      assert.equal(miss?.level, "info");
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    // Every line the daemon wrote, to the last, is one JSON object.
    assert.ok(jsonLines(daemon.stderr()).some((l) => l.msg === "Registry stopped"));
  },
);

Deno.test("registry /readyz answers 503 while the daemon drains after SIGTERM; /healthz stays 200", async () => {
  await using work = await tempDir("registry-readyz-");
  const daemon = await startDaemon(["--host", "127.0.0.1", "--storage", work.path]);
  const debug = debugBase(daemon);
  const base = `http://127.0.0.1:${daemon.port}`;
  try {
    assert.deepEqual(await get(`${debug}/readyz`), { status: 200, body: "ready\n" });
    // A large blob whose response the client stops reading keeps the daemon draining.
    const blob = new Uint8Array(32 << 20);
    for (let i = 0; i < blob.length; i += 65536) {
      crypto.getRandomValues(blob.subarray(i, i + 65536));
    }
    const hex = [...new Uint8Array(await crypto.subtle.digest("SHA-256", blob))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const digest = `sha256:${hex}`;
    const started = await fetch(`${base}/v2/team/app/blobs/uploads/`, { method: "POST" });
    assert.equal(started.status, 202);
    const location = new URL(started.headers.get("Location")!, base);
    location.searchParams.set("digest", digest);
    const put = await fetch(location, { method: "PUT", body: blob });
    assert.equal(put.status, 201, await put.text());
    const pulling = await fetch(`${base}/v2/team/app/blobs/${digest}`);
    assert.equal(pulling.status, 200);
    const reader = pulling.body!.getReader();
    assert.ok((await reader.read()).value!.length > 0);
    daemon.signal("SIGTERM");
    let ready = await get(`${debug}/readyz`);
    const deadline = Date.now() + 5000;
    while (ready.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      ready = await get(`${debug}/readyz`);
    }
    assert.equal(ready.status, 503, ready.body);
    assert.match(ready.body, /^not ready: shutting down\n$/);
    assert.deepEqual(await get(`${debug}/healthz`), { status: 200, body: "ok\n" });
    await reader.cancel();
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr());
  }
  const access = daemon.stderr().split("\n").filter((l) => /^INFO +access /.test(l));
  assert.equal(access.length, 3, daemon.stderr());
  assert.match(
    access[0],
    / method=POST route=\/v2\/<name>\/blobs\/uploads\/ repository=team\/app status=202 /,
  );
  assert.match(
    access[1],
    / method=PUT route=\/v2\/<name>\/blobs\/uploads\/<uuid> repository=team\/app status=201 /,
  );
  assert.match(
    access[2],
    / method=GET route=\/v2\/<name>\/blobs\/<digest> repository=team\/app status=200 bytes=33554432 /,
  );
  assert.match(access[0], /^INFO +access time=\d{4}-\d\d-\d\dT[\d:.]+Z client=127\.0\.0\.1 /);
});

Deno.test("registry access log: a stderr nobody reads stalls no request; lines beyond the buffer are dropped, counted in /metrics and reported once it moves", async () => {
  await using work = await tempDir("registry-stuck-log-");
  const daemon = await startDaemon(["--host", "127.0.0.1", "--storage", work.path]);
  const base = `http://127.0.0.1:${daemon.port}/v2/`;
  const debug = debugBase(daemon);
  const dropped = async () =>
    samples((await get(`${debug}/metrics`)).body)
      .get('k0rdentd_registry_log_dropped_lines_total{log="access"}');
  let sent = 0;
  let lost: number | undefined;
  try {
    assert.equal(await dropped(), 0);
    daemon.pauseStderr();
    const deadline = Date.now() + 90_000;
    // Requests until the daemon drops lines: its stderr pipe and the buffer behind it are full.
    while (!lost) {
      assert.ok(Date.now() < deadline, `no line dropped after ${sent} requests`);
      await Promise.all(Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 125; i++) {
          // A daemon blocked on its stderr would not answer: the timeout fails the test.
          const res = await fetch(base, { signal: AbortSignal.timeout(20_000) });
          assert.equal(res.status, 200);
          await res.arrayBuffer();
          sent++;
        }
      }));
      lost = await dropped();
    }
    assert.ok(sent - lost! >= 8192, `${sent} sent, ${lost} dropped`);
    daemon.resumeStderr();
    const reported = () =>
      [...daemon.stderr().matchAll(/^WARN +Registry access log dropped (\d+) line\(s\): /gm)]
        .reduce((sum, m) => sum + Number(m[1]), 0);
    while (reported() < lost! && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(reported(), lost);
  } finally {
    daemon.resumeStderr();
    assert.equal(await daemon.stop(), 0, daemon.stderr().slice(-2000));
  }
  // Every request not dropped has its line, in order after the ones before.
  const access = daemon.stderr().split("\n").filter((l) => /^INFO +access /.test(l));
  assert.equal(access.length, sent - lost!);
  const times = access.map((l) => Date.parse(/ time=(\S+)/.exec(l)![1]));
  assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]), "lines out of order");
});

Deno.test('registry --no-access-log --debug-address "": no access lines, no debug listener', async () => {
  await using work = await tempDir("registry-quiet-");
  const daemon = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    work.path,
    "--no-access-log",
    "--debug-address",
    "",
  ]);
  try {
    const res = await get(`http://127.0.0.1:${daemon.port}/v2/`);
    assert.equal(res.status, 200);
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr());
  }
  assert.doesNotMatch(daemon.stderr(), /access|metrics and health/);
});

Deno.test("registry --debug-address: taken is exit 1, malformed or the registry port exit 2, one line each", async () => {
  await using work = await tempDir("registry-debug-bad-");
  const port = freePort();
  const base = ["registry", "--host", "127.0.0.1", "--port", String(port), "--tls", "off"];
  const run = (debug: string) =>
    runRegistryCli([
      ...base,
      "--files-port",
      "0",
      "--storage",
      work.path,
      "--debug-address",
      debug,
    ]);
  const oneLine = (res: { code: number; stderr: string }, code: number, pattern: RegExp) => {
    assert.equal(res.code, code, res.stderr);
    const lines = res.stderr.trim().split("\n");
    // A usage error (exit 2) adds the --help hint.
    assert.deepEqual(lines.slice(1), code === 2 ? ["(run with --help for usage)"] : [], res.stderr);
    assert.match(lines[0], pattern);
  };
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const taken = busy.addr.port;
    oneLine(
      await run(`127.0.0.1:${taken}`),
      1,
      new RegExp(
        `^ERROR Cannot listen on 127\\.0\\.0\\.1:${taken} \\(--debug-address\\): address already in use$`,
      ),
    );
  } finally {
    busy.close();
  }
  oneLine(
    await run("localhost"),
    2,
    /^ERROR Invalid --debug-address "localhost": expected HOST:PORT such as 127\.0\.0\.1:5001/,
  );
  oneLine(
    await run(`127.0.0.1:${port}`),
    2,
    new RegExp(
      `^ERROR Invalid --debug-address "127\\.0\\.0\\.1:${port}": port ${port} is the registry port`,
    ),
  );
});

Deno.test(
  await needsTools(
    "promtool check rules accepts deploy/prometheus/k0rdentd-registry.rules.yml",
    "promtool",
  ),
  async () => {
    const res = await promtool(["check", "rules", RULES]);
    assert.equal(res.code, 0, res.output);
    assert.match(res.output, /SUCCESS: 4 rules found/);
  },
);

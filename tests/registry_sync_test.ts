/**
 * `registry --sync-from`: two (or three) real daemons in one test. B replicates A until it holds
 * every tag byte-identical; B killed with SIGKILL in the middle of a blob leaves nothing
 * tagged and converges after a restart; a lying source gets nothing tagged and an unreachable
 * one is shown in `registry status` while B goes on serving.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { digestOf } from "../src/registry/digest.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { openDiskStorage, type RegistryStorage } from "../src/registry/storage/storage.ts";
import type { SyncStatus } from "../src/registry/sync/sync_status.ts";
import { verifyStorage } from "../src/registry/verify.ts";
import { makeBundle, randomBytes } from "./fixtures/make_bundle.ts";
import { freePort } from "./helpers/free_port.ts";
import { fakeSource } from "./helpers/lying_registry.ts";
import { needsTools } from "./helpers/tools.ts";
import { type Daemon, debugBase, runRegistryCli, startDaemon } from "./registry_helpers.ts";

/** `registry status --output json` of `storage`. */
async function syncStatus(storage: string): Promise<SyncStatus | undefined> {
  const res = await runRegistryCli([
    "registry",
    "status",
    "--storage",
    storage,
    "--output",
    "json",
  ]);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout).replication;
}

/** Polls until `done(status)` holds; fails with the last status and the daemon's log. */
async function waitFor(
  storage: string,
  daemon: Daemon,
  done: (s: SyncStatus) => boolean,
  timeoutMs = 60_000,
): Promise<SyncStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: SyncStatus | undefined;
  while (Date.now() < deadline) {
    last = await syncStatus(storage);
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out: ${JSON.stringify(last, null, 2)}\n${daemon.stderr()}`);
}

/** Every repository:tag → digest, with every manifest's bytes and every blob's digest/size. */
async function contents(storage: RegistryStorage) {
  const tags = new Map<string, string>();
  const manifests = new Map<string, string>();
  for (const repo of await storage.listRepositories()) {
    for (const tag of (await storage.listTags(repo)) ?? []) {
      const digest = (await storage.resolveTag(repo, tag))!;
      tags.set(`${repo}:${tag}`, digest);
    }
    for (const rev of await storage.listRevisions(repo)) {
      const m = await storage.getManifest(repo, rev);
      manifests.set(`${repo}@${rev}`, digestOf(m!.bytes));
    }
  }
  const blobs: string[] = [];
  for await (const b of storage.listBlobs()) blobs.push(`${b.digest} ${b.size}`);
  return { tags, manifests, blobs: blobs.sort() };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Bytes of the distinct blobs of `storage` that are no manifests (what replication copies). */
async function layerBytes(storage: RegistryStorage, manifests: Iterable<string>): Promise<number> {
  const skip = new Set(manifests);
  let total = 0;
  for await (const b of storage.listBlobs()) if (!skip.has(b.digest)) total += b.size;
  return total;
}

const inSync = (s: SyncStatus) => s.sources.every((x) => x.state === "in sync");

Deno.test(
  await needsTools(
    "registry --sync-from: B replicates A (HTTPS, --sync-ca) byte-identical; status says in sync",
    "skopeo",
    "openssl",
  ),
  async () => {
    await using work = await tempDir("sync-two-");
    const a = join(work.path, "a");
    const b = join(work.path, "b");
    const bundle = join(work.path, "bundle.tar.gz");
    const made = await makeBundle(bundle, { images: 4, layerSize: 256 * 1024 });
    await loadBundle({
      bundle,
      storage: openDiskStorage(a),
      prefix: "k0rdent-enterprise",
      verify: "off",
      runner: new ProcessRunner(),
    });
    // A serves HTTPS with its own CA (--tls auto); B trusts it with --sync-ca.
    const daemonA = await startDaemon(["--storage", a, "--tls", "auto"]);
    const fromA = `https://127.0.0.1:${daemonA.port}`;
    let daemonB: Daemon | undefined;
    try {
      daemonB = await startDaemon([
        "--storage",
        b,
        "--sync-from",
        fromA,
        "--sync-ca",
        join(a, "tls", "ca.crt"),
        "--sync-interval",
        "500ms",
      ]);
      const status = await waitFor(b, daemonB, inSync);
      const [source] = status.sources;
      assert.equal(source.source, fromA);
      assert.equal(source.tags, made.refs.size);
      assert.equal(source.tagsBehind, 0);
      assert.equal(source.bytesBehind, 0);
      assert.ok(source.lastSyncAt);
      const want = await contents(openDiskStorage(a));
      const got = await contents(openDiskStorage(b));
      assert.deepEqual(got.tags, want.tags);
      assert.deepEqual(got.manifests, want.manifests);
      assert.deepEqual(got.blobs, want.blobs);
      const verified = await verifyStorage(openDiskStorage(b));
      assert.deepEqual(verified.problems, []);
      assert.equal(
        source.bytesCopied,
        await layerBytes(openDiskStorage(b), [...got.manifests.keys()].map((k) => k.split("@")[1])),
      );
      // B serves what it replicated.
      const [ref, digest] = [...got.tags][0];
      const [repo, tag] = ref.split(":");
      const res = await fetch(`http://127.0.0.1:${daemonB.port}/v2/${repo}/manifests/${tag}`, {
        headers: { accept: Object.values(MEDIA_TYPES).join(", ") },
      });
      assert.equal(digestOf(new Uint8Array(await res.arrayBuffer())), digest);
      // Stopped, so no next pass (every 500 ms) is "syncing" while the status is read.
      assert.equal(await daemonB.stop(), 0);
      const text = await runRegistryCli(["registry", "status", "--storage", b]);
      assert.match(
        text.stdout,
        new RegExp(
          `https://127\\.0\\.0\\.1:${daemonA.port}: in sync, 0 of ${made.refs.size} tags behind`,
        ),
      );
    } finally {
      await daemonB?.stop();
      await daemonA.stop();
    }
  },
);

/**
 * A proxy in front of `port` that hands blob bodies on slowly (64 KiB every 10 ms), so a
 * replica is surely in the middle of a blob when the test kills it.
 */
function slowProxy(port: number) {
  const ranges: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (url.pathname.includes("/blobs/")) ranges.push(req.headers.get("range") ?? "");
    const upstream = await fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, {
      method: req.method,
      headers: req.headers,
    });
    if (!url.pathname.includes("/blobs/") || !upstream.body) return upstream;
    const reader = upstream.body.getReader();
    let pending = new Uint8Array(0);
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        while (pending.length < 65536) {
          const { done, value } = await reader.read();
          if (done) break;
          const joined = new Uint8Array(pending.length + value.length);
          joined.set(pending);
          joined.set(value, pending.length);
          pending = joined;
        }
        if (pending.length === 0) return c.close();
        await new Promise((r) => setTimeout(r, 10));
        c.enqueue(pending.slice(0, 65536));
        pending = pending.slice(65536);
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: upstream.status, headers: upstream.headers });
  });
  return { server, url: `http://127.0.0.1:${server.addr.port}`, ranges };
}

/** Stores a one-layer image of `size` random bytes as `repo:tag`. */
async function storeBigImage(storage: RegistryStorage, repo: string, tag: string, size: number) {
  const enc = new TextEncoder();
  const layer = await storage.putBlob(randomBytes(size, 7));
  await storage.linkBlob(repo, layer.digest);
  const config = await storage.putBlob(enc.encode('{"architecture":"amd64","os":"linux"}'));
  await storage.linkBlob(repo, config.digest);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
  }));
  await storage.putManifest(repo, manifest, { reference: tag });
  return layer;
}

/** Size of the largest file in `<storage>/uploads`. */
async function largestUpload(storage: string): Promise<number> {
  let max = 0;
  try {
    for await (const e of Deno.readDir(join(storage, "uploads"))) {
      if (e.isFile) max = Math.max(max, (await Deno.stat(join(storage, "uploads", e.name))).size);
    }
  } catch {
    // No uploads yet.
  }
  return max;
}

Deno.test("registry --sync-from: kill -9 of the replica mid-blob leaves nothing tagged; a restart resumes the blob and converges", async () => {
  await using work = await tempDir("sync-kill-");
  const a = join(work.path, "a");
  const b = join(work.path, "b");
  const layer = await storeBigImage(openDiskStorage(a), "big/image", "v1", 12 * 1024 * 1024);
  const daemonA = await startDaemon(["--storage", a]);
  const proxy = slowProxy(daemonA.port);
  let daemonB: Daemon | undefined;
  try {
    daemonB = await startDaemon(["--storage", b, "--sync-from", proxy.url]);
    const deadline = Date.now() + 30_000;
    while (await largestUpload(b) < 1024 * 1024) {
      if (Date.now() > deadline) throw new Error(`No blob copy started: ${daemonB.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await daemonB.stop("SIGKILL"), 137);
    const partial = openDiskStorage(b);
    assert.ok((await largestUpload(b)) < layer.size, "the copy was still running");
    assert.equal(await partial.hasBlob(layer.digest), false);
    assert.equal(await partial.resolveTag("big/image", "v1"), undefined);

    const cut = await largestUpload(b);
    const asked = proxy.ranges.length;
    daemonB = await startDaemon([
      "--storage",
      b,
      "--sync-from",
      proxy.url,
      "--sync-interval",
      "500ms",
    ]);
    const status = await waitFor(b, daemonB, inSync);
    const want = await contents(openDiskStorage(a));
    const got = await contents(openDiskStorage(b));
    assert.deepEqual(got.tags, want.tags);
    assert.deepEqual(got.blobs, want.blobs);
    assert.deepEqual((await verifyStorage(openDiskStorage(b))).problems, []);
    // It resumed: the layer was asked for from where the upload stopped, and only the rest came.
    const resumed = proxy.ranges.slice(asked).find((r) => r !== "");
    assert.ok(resumed, proxy.ranges.join(" | "));
    const from = Number(/^bytes=(\d+)-$/.exec(resumed)?.[1]);
    assert.ok(from > 0 && from <= cut, `${resumed} (upload had ${cut} bytes)`);
    assert.ok(status.sources[0].bytesCopied < layer.size, JSON.stringify(status));
    assert.equal(await largestUpload(b), 0, "no upload left behind");
  } finally {
    await daemonB?.stop();
    await proxy.server.shutdown();
    await daemonA.stop();
  }
});

Deno.test("registry --sync-from: a lying source gets nothing tagged, an unreachable one is shown; serving goes on", async () => {
  await using work = await tempDir("sync-bad-");
  const b = join(work.path, "b");
  const fake = fakeSource();
  // Port 1 (tcpmux, privileged, unused on any host the suite runs on): a port freed by
  // freePort() could be taken by another test before the replica dials it.
  const closed = "http://127.0.0.1:1";
  const liar = `http://${fake.address}`;
  let daemonB: Daemon | undefined;
  try {
    daemonB = await startDaemon([
      "--storage",
      b,
      "--sync-from",
      liar,
      "--sync-from",
      closed,
      "--sync-interval",
      "500ms",
    ]);
    const status = await waitFor(
      b,
      daemonB,
      (s) => s.sources.every((x) => x.state === "behind" || x.state === "unreachable"),
    );
    const [fromLiar, fromClosed] = status.sources;
    assert.equal(fromLiar.source, liar);
    assert.equal(fromLiar.state, "behind");
    assert.equal(fromLiar.tags, 8);
    assert.equal(fromLiar.tagsBehind, 6);
    assert.match(fromLiar.lastError ?? "", /digest/);
    assert.equal(fromLiar.lastSyncAt, undefined);
    assert.equal(fromClosed.source, closed);
    assert.equal(fromClosed.state, "unreachable");
    assert.match(fromClosed.lastError ?? "", /Cannot reach registry "127\.0\.0\.1:\d+"/);

    const storage = openDiskStorage(b);
    assert.deepEqual(await storage.listTags("honest"), ["a", "b"]);
    assert.equal(await storage.listTags("liar"), undefined);
    assert.equal(await storage.listTags("forger"), undefined);
    assert.equal(await storage.listTags("padder"), undefined);
    // The lag is in /metrics too, per source.
    const metrics = await (await fetch(`${debugBase(daemonB)}/metrics`)).text();
    assert.match(metrics, new RegExp(`^k0rdentd_registry_sync_up\\{source="${liar}"\\} 1$`, "m"));
    assert.match(metrics, new RegExp(`^k0rdentd_registry_sync_up\\{source="${closed}"\\} 0$`, "m"));
    assert.match(
      metrics,
      new RegExp(`^k0rdentd_registry_sync_tags_behind\\{source="${liar}"\\} 6$`, "m"),
    );
    // B still serves.
    const res = await fetch(`http://127.0.0.1:${daemonB.port}/v2/_catalog`);
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).repositories, ["honest"]);
    // Stopped, the daemon leaves each source's state as its last finished pass left it.
    assert.equal(await daemonB.stop(), 0);
    const text = await runRegistryCli(["registry", "status", "--storage", b]);
    assert.match(text.stdout, new RegExp(`${closed}: unreachable`));
    assert.match(text.stdout, /last error: Cannot reach registry/);
    assert.match(text.stdout, new RegExp(`${liar}: behind, 6 of 8 tags behind`));
  } finally {
    await daemonB?.stop();
    await fake.server.shutdown();
  }
});

Deno.test("registry --sync-from: bad sources and a missing password file are clear errors before serving", async () => {
  await using work = await tempDir("sync-flags-");
  const readable = join(work.path, "pw");
  await Deno.writeTextFile(readable, "secret\n", { mode: 0o644 });
  await Deno.chmod(readable, 0o644);
  const cases: [string[], number, RegExp][] = [
    [["--sync-from", "ftp://x:21"], 2, /^ERROR Invalid --sync-from "ftp:\/\/x:21": expected a URL/],
    [["--sync-from", "https://u:p@x:5000"], 2, /^ERROR Invalid --sync-from "https:\/\/u:p@x/],
    [["--sync-from", "https://x:5000/v2/a"], 2, /expected a URL such as https/],
    [
      ["--sync-from", "https://x:5000?a=1"],
      1,
      /"https:\/\/x:5000\?a=1": expected the registry's root/,
    ],
    [["--sync-from", "x:5000", "--sync-interval", "soon"], 2, /--sync-interval "soon".*duration/],
    [
      ["--sync-from", "x:5000", "--sync-from", "y:5000", "--sync-files-from", "http://x:5080/p"],
      1,
      /^ERROR Got 1 --sync-files-from for 2 --sync-from: give one per source/,
    ],
    [
      ["--sync-from", "x:5000", "--sync-files-from", "ftp://x/p"],
      2,
      /--sync-files-from "ftp:\/\/x\/p"/,
    ],
    [
      ["--sync-from", "x:5000", "--sync-username", "u", "--sync-password-file", "/nonexistent"],
      1,
      /^ERROR Cannot read --sync-password-file "\/nonexistent"/,
    ],
    [
      ["--sync-from", "x:5000", "--sync-username", "u"],
      1,
      /has no password: pass --sync-password-file/,
    ],
    [
      ["--sync-from", "x:5000", "--sync-username", "u", "--sync-password-file", readable],
      1,
      /^ERROR Refusing --sync-password-file ".*pw": other users can access it \(mode 0644\): chmod 600 it$/,
    ],
  ];
  for (const [args, code, pattern] of cases) {
    const res = await runRegistryCli([
      "registry",
      "--storage",
      join(work.path, "s"),
      "--tls",
      "off",
      "--port",
      String(freePort()),
      "--files-port",
      "0",
      ...args,
    ]);
    assert.equal(res.code, code, `${args.join(" ")}: ${res.stderr}`);
    assert.match(res.stderr.trim().split("\n")[0], pattern);
    assert.doesNotMatch(res.stderr, /\s+at\s/);
    assert.ok(!(await exists(join(work.path, "s", "sync"))), "nothing was written");
  }
});

Deno.test(
  await needsTools(
    "registry --sync-from: basic auth on a --htpasswd --auth-pulls source from a 0600 password file; a wrong password is shown, never the password",
    "htpasswd",
  ),
  async () => {
    await using work = await tempDir("sync-auth-");
    const a = join(work.path, "a");
    const storage = openDiskStorage(a);
    await storeBigImage(storage, "k0rdent-enterprise/app", "v1", 64 * 1024);
    const htpasswd = join(work.path, "htpasswd");
    const made = await new Deno.Command("htpasswd", {
      args: ["-c", "-B", "-i", htpasswd, "replica"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const writer = made.stdin.getWriter();
    await writer.write(new TextEncoder().encode("s3cret-pass\n"));
    await writer.close();
    assert.equal((await made.status).code, 0);
    const daemonA = await startDaemon(["--storage", a, "--htpasswd", htpasswd, "--auth-pulls"]);
    const from = `http://127.0.0.1:${daemonA.port}`;
    const good = join(work.path, "good.pw");
    const bad = join(work.path, "bad.pw");
    await Deno.writeTextFile(good, "s3cret-pass\n", { mode: 0o600 });
    await Deno.writeTextFile(bad, "wrong-pass\n", { mode: 0o600 });
    const replica = (dir: string, pw: string) =>
      startDaemon([
        "--storage",
        join(work.path, dir),
        "--sync-from",
        from,
        "--sync-username",
        "replica",
        "--sync-password-file",
        pw,
        "--sync-interval",
        "500ms",
      ]);
    let b: Daemon | undefined;
    let c: Daemon | undefined;
    try {
      b = await replica("b", good);
      await waitFor(join(work.path, "b"), b, inSync);
      const want = await contents(storage);
      assert.deepEqual((await contents(openDiskStorage(join(work.path, "b")))).tags, want.tags);
      c = await replica("c", bad);
      const status = await waitFor(
        join(work.path, "c"),
        c,
        (s) => s.sources[0].state === "unreachable",
      );
      assert.match(status.sources[0].lastError ?? "", /401|unauthorized|credentials/i);
      for (const d of [b, c]) {
        assert.doesNotMatch(d.stderr(), /s3cret-pass|wrong-pass/);
        const argv = await Deno.readTextFile(`/proc/${d.child.pid}/cmdline`);
        assert.doesNotMatch(argv, /s3cret-pass|wrong-pass/);
      }
      assert.doesNotMatch(JSON.stringify(status), /wrong-pass/);
    } finally {
      await c?.stop();
      await b?.stop();
      await daemonA.stop();
    }
  },
);

/**
 * `build-airgap` downloading k0s and helm: a real HTTP server on 127.0.0.1
 * serves a fake k0s and a fake helm release tarball (made with modern-tar)
 * under the official file names; digests are checked before anything is kept.
 * `deno compile` is the FakeRunner (no compile base here).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { packTar } from "modern-tar";
import type { BuildInfo } from "../src/assets/build_info.ts";
import { FakeRunner, type RecordedCall } from "../src/process/fake_runner.ts";
import { airgapProgram } from "../tasks/build_airgap.ts";
import { freePort } from "./helpers/free_port.ts";

const FAKE_K0S = new TextEncoder().encode("#!/bin/sh\necho fake k0s\n");
const FAKE_HELM = new TextEncoder().encode("#!/bin/sh\necho fake helm\n");
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

async function helmTarball(): Promise<Uint8Array<ArrayBuffer>> {
  const tar = await packTar([
    { header: { name: "linux-amd64/", type: "directory", size: 0 } },
    { header: { name: "linux-amd64/LICENSE", size: 3 }, body: new TextEncoder().encode("MIT") },
    { header: { name: "linux-amd64/helm", size: FAKE_HELM.length, mode: 0o755 }, body: FAKE_HELM },
  ]);
  return new Uint8Array(
    await new Response(new Blob([tar]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
}

async function setup() {
  const tarball = await helmTarball();
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    requests.push(path);
    if (path === "/k0s/v1.32.8%2Bk0s.0/k0s-v1.32.8+k0s.0-amd64") return new Response(FAKE_K0S);
    if (path === "/helm/helm-v3.18.4-linux-amd64.tar.gz") return new Response(tarball);
    return new Response("not found", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-build-fetch-" });
  const runner = new FakeRunner();
  let staged: BuildInfo | undefined;
  runner.on(/ compile /, async (call: RecordedCall) => {
    staged = JSON.parse(await Deno.readTextFile(join(root, "assets/build-info.json")));
    const output = call.argv[call.argv.indexOf("--output") + 1];
    await Deno.mkdir(join(root, "dist"), { recursive: true });
    await Deno.writeFile(join(root, output), new Uint8Array(10));
    return { code: 0 };
  });
  const denort = join(root, "denort");
  await Deno.writeFile(
    denort,
    new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ...Array(14).fill(0), 0x3e, 0]),
  );
  return {
    root,
    requests,
    tarball,
    runner,
    staged: () => staged,
    run: (...args: string[]) =>
      airgapProgram(undefined, {
        runner,
        root,
        sources: { k0sBase: `${base}/k0s`, helmBase: `${base}/helm` },
        env: (name) => (name === "DENORT_BIN" ? denort : undefined),
      }).parseAsync(["--target", "x86_64-unknown-linux-gnu", ...args], { from: "user" }),
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
    },
  };
}

Deno.test("build-airgap downloads k0s and the helm tarball, checks their SHA-256 and reuses the cache", async () => {
  await using s = await setup();
  const sums = ["--k0s-sha256", sha256(FAKE_K0S), "--helm-sha256", sha256(s.tarball)];
  await s.run(...sums);
  const info = s.staged()!;
  assert.deepEqual(info.assets.map((a) => [a.name, a.version, a.size, a.sha256]), [
    ["k0s", "v1.32.8+k0s.0", FAKE_K0S.length, sha256(FAKE_K0S)],
    ["helm", "v3.18.4", FAKE_HELM.length, sha256(FAKE_HELM)],
  ]);
  const downloads = join(s.root, "assets/build/downloads");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(downloads))).map((e) => e.name).sort(),
    ["helm-v3.18.4-amd64", "helm-v3.18.4-linux-amd64.tar.gz", "k0s-v1.32.8+k0s.0-amd64"],
  );
  assert.equal(s.requests.length, 2);
  // A second build uses the verified downloads.
  await s.run(...sums);
  assert.equal(s.requests.length, 2);
  assert.equal(s.runner.calls.length, 2);
});

Deno.test("build-airgap refuses a download whose SHA-256 differs and keeps nothing", async () => {
  await using s = await setup();
  await assert.rejects(
    s.run("--k0s-sha256", "0".repeat(64), "--helm-sha256", sha256(s.tarball)),
    /^UserError: Cannot download ".*k0s-v1\.32\.8\+k0s\.0-amd64": SHA-256 mismatch: got [0-9a-f]{64}, expected 0{64}$/,
  );
  const downloads = join(s.root, "assets/build/downloads");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(downloads)), []);
  assert.equal(s.runner.calls.length, 0);
});

Deno.test("build-airgap reports HTTP errors and bad sums clearly", async () => {
  await using s = await setup();
  await assert.rejects(
    s.run(
      "--helm-version",
      "v3.0.0",
      "--k0s-sha256",
      sha256(FAKE_K0S),
      "--helm-sha256",
      "a".repeat(64),
    ),
    /Cannot download ".*helm-v3\.0\.0-linux-amd64\.tar\.gz": HTTP 404/,
  );
  await assert.rejects(
    s.run("--k0s-sha256", "xyz"),
    /Invalid --k0s-sha256 "xyz": expected 64 hex digits/,
  );
  assert.equal(s.runner.calls.length, 0);
});

Deno.test("build-airgap says how to build offline when the download server cannot be reached", async () => {
  const closed = `http://127.0.0.1:${freePort()}`;
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-build-fetch-" });
  try {
    await assert.rejects(
      airgapProgram(undefined, {
        runner: new FakeRunner(),
        root,
        sources: { k0sBase: closed, helmBase: closed },
      }).parseAsync(["--k0s-sha256", "0".repeat(64)], { from: "user" }),
      /^UserError: Cannot download "http:\/\/127\.0\.0\.1:\d+\/v1\.32\.8%2Bk0s\.0\/k0s-v1\.32\.8\+k0s\.0-(amd|arm)64": .* \(without network, build from local files with --k0s-binary and --helm-binary\)$/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

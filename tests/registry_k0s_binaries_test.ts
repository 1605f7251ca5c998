/**
 * k0s binaries for child clusters end to end, with real signatures made by openssl (a cosign
 * key-based blob signature is base64 DER ECDSA P-256 over SHA-256 of the file): the daemon as
 * a subprocess with exactly the serve permissions, `registry add-k0s-binary` while it serves,
 * real curl fetching as k0smotron does (`curl -sSfL --retry 5 URL -o FILE`), bad input, and
 * `bundle load` / `registry --bundle-path` storing the binaries in and beside a bundle.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { randomBytes } from "./fixtures/make_bundle.ts";
import { runCli } from "./helpers/cli.ts";
import { freePort } from "./helpers/free_port.ts";
import { allFiles } from "./helpers/storage_drivers.ts";
import { runRegistryCli, startDaemon } from "./registry_helpers.ts";
import { DiskDriver } from "../src/registry/storage/disk_driver.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

const NAME = "k0s-v1.32.6+k0s.0-amd64";
const ARM = "k0s-v1.32.6+k0s.0-arm64";
const PREFIX = "k0rdent-enterprise";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A temp dir with keys (`cosign.pub`, `other.pub`) and a signed 3 MiB `NAME`. */
async function workDir() {
  const path = await Deno.makeTempDir({ prefix: "k0s-binaries-" });
  await makeKeyPair(path);
  await makeKeyPair(path, "other.pem", "other.pub");
  const binary = randomBytes(3 * 1024 * 1024 + 17, 7);
  await Deno.writeFile(join(path, NAME), binary);
  await signBlob(path, NAME);
  return { path, binary, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Files under the storage's k0s directory and uploads area (nothing else is looked at). */
async function k0sFiles(storage: string): Promise<string[]> {
  const driver = new DiskDriver(storage);
  return [...await allFiles(driver, "files"), ...await allFiles(driver, "uploads")].sort();
}

function assertOneLineError(res: { code: number; stderr: string }, pattern: RegExp) {
  assert.equal(res.code, 1, res.stderr);
  const lines = res.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${res.stderr}`);
  assert.match(lines[0], pattern);
}

async function curl(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command("curl", { args, stdin: "null", stderr: "null" }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("registry add-k0s-binary while serving: curl fetches it at /<prefix>/<name>, HEAD, Range, 404, 405", async () => {
  await using work = await workDir();
  const storage = join(work.path, "storage");
  const filesPort = freePort();
  const daemon = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    storage,
    "--files-port",
    String(filesPort),
    "--log-level",
    "debug",
  ]);
  const base = `http://127.0.0.1:${filesPort}/${PREFIX}`;
  try {
    assert.match(daemon.stderr(), /Dropped permissions: run, ffi, sys, env/);
    assert.match(
      daemon.stderr(),
      new RegExp(`k0s binaries served at http://127\\.0\\.0\\.1:${filesPort}/${PREFIX}/<name>`),
    );
    const out = join(work.path, "downloaded");
    // -f: an HTTP error is exit 22; not there yet.
    assert.equal((await curl(["-sSfL", `${base}/${NAME}`, "-o", out])).code, 22);

    const added = await runRegistryCli([
      "registry",
      "add-k0s-binary",
      join(work.path, NAME),
      "--storage",
      storage,
      "--cosign-key",
      join(work.path, "cosign.pub"),
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stdout.trim(),
      new RegExp(`^Stored k0s binary "${NAME.replaceAll("+", "\\+")}" .*\\(signature verified\\)$`),
    );

    // What k0smotron runs on a node (internal/controller/util/download.go).
    const fetched = await curl(["-sSfL", "--retry", "5", `${base}/${NAME}`, "-o", out]);
    assert.equal(fetched.code, 0);
    assert.equal(sha256(await Deno.readFile(out)), sha256(work.binary));
    const sig = await fetch(`${base}/${NAME}.sig`);
    assert.equal(await sig.text(), await Deno.readTextFile(join(work.path, `${NAME}.sig`)));

    const head = await fetch(`${base}/${NAME}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("Content-Length"), String(work.binary.length));
    assert.equal(head.headers.get("Content-Type"), "application/octet-stream");
    const part = await curl(["-sSf", "-r", "1000-1999", `${base}/${NAME}`, "-o", out]);
    assert.equal(part.code, 0);
    assert.equal(sha256(await Deno.readFile(out)), sha256(work.binary.subarray(1000, 2000)));
    const tooFar = await fetch(`${base}/${NAME}`, { headers: { Range: "bytes=99999999-" } });
    assert.equal(tooFar.status, 416);
    await tooFar.body?.cancel();

    const code = (args: string[]) => curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", ...args]);
    assert.equal((await code([`${base}/${ARM}`])).stdout, "404");
    assert.equal((await code([`http://127.0.0.1:${filesPort}/${NAME}`])).stdout, "404");
    assert.equal((await code([`http://127.0.0.1:${filesPort}/v2/`])).stdout, "404");
    assert.equal((await code(["-X", "POST", `${base}/${NAME}`])).stdout, "405");
    assert.equal((await code(["-X", "DELETE", `${base}/${NAME}`])).stdout, "405");

    const status = await runRegistryCli(["registry", "status", "--storage", storage]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /k0s binaries \(1\):\n {2}k0s-v1\.32\.6\+k0s\.0-amd64 .*\(\.sig\)/);
    const json = await runRegistryCli([
      "registry",
      "status",
      "--storage",
      storage,
      "--output",
      "json",
    ]);
    assert.deepEqual(JSON.parse(json.stdout).k0sBinaries, [
      { name: NAME, size: work.binary.length, signature: true },
    ]);
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr());
  }
});

Deno.test("registry add-k0s-binary: bad name, signature or key is one line, exit 1, nothing stored", async () => {
  await using work = await workDir();
  const storage = join(work.path, "storage");
  const p = (name: string) => join(work.path, name);
  await Deno.copyFile(p(NAME), p("k0s-amd64"));
  await Deno.copyFile(p(NAME), p("k0s-v1.32.6+k0s.0-x86_64"));
  // Same name, other content, the good binary's signature beside it.
  await Deno.mkdir(p("tampered"));
  await Deno.writeFile(p(`tampered/${NAME}`), randomBytes(4096, 9));
  await Deno.copyFile(p(`${NAME}.sig`), p(`tampered/${NAME}.sig`));
  await Deno.writeTextFile(p("garbage.sig"), "not base64 at all!\n");
  const add = (args: string[]) =>
    runRegistryCli(["registry", "add-k0s-binary", ...args, "--storage", storage]);
  const key = ["--cosign-key", p("cosign.pub")];
  const cases: [string[], RegExp][] = [
    [
      [p("k0s-amd64"), ...key],
      /^ERROR Cannot add k0s binary ".*k0s-amd64": the file name must be k0s-<version>-<arch>/,
    ],
    [[p("k0s-v1.32.6+k0s.0-x86_64"), ...key], /the file name must be k0s-<version>-<arch>/],
    [
      [p(`tampered/${NAME}`), ...key],
      /^ERROR Signature check of k0s binary ".*tampered\/k0s-v1\.32\.6\+k0s\.0-amd64" failed: .*nothing was stored$/,
    ],
    [[p(NAME), "--cosign-key", p("other.pub")], /Signature check of k0s binary .* failed/],
    [
      [p(NAME), "--signature", p(`${NAME}.sig`)],
      /^ERROR Cannot verify k0s binary ".*": no public key; .*--cosign-key PATH/,
    ],
    [
      [p(NAME), "--signature", p("garbage.sig"), ...key],
      /Cannot verify k0s binary ".*": ".*garbage\.sig" is not base64/,
    ],
    [
      [p(NAME), "--signature", p("missing.sig"), ...key],
      /Cannot verify k0s binary ".*": signature ".*missing\.sig" not found/,
    ],
    [
      [p("k0s-v1.32.6+k0s.0-arm64"), ...key],
      /^ERROR Cannot read k0s binary ".*arm64": no such file$/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const res = await add(args);
    assertOneLineError(res, pattern);
    assert.doesNotMatch(res.stderr, /\s+at\s/);
    assert.deepEqual(await k0sFiles(storage), [], args.join(" "));
  }
  // Opting out stores it with a warning; so does a binary that has no signature at all.
  const unchecked = await add([p(`tampered/${NAME}`), "--verify=false", "--output", "json"]);
  assert.equal(unchecked.code, 0, unchecked.stderr);
  assert.match(unchecked.stderr, /Not checking the signature of k0s binary/);
  assert.equal(JSON.parse(unchecked.stdout).signature, "unchecked");
  await Deno.remove(p(`${NAME}.sig`));
  const unsigned = await add([p(NAME), ...key, "--output", "json"]);
  assert.equal(unsigned.code, 0, unsigned.stderr);
  assert.match(unsigned.stderr, /has no signature .*storing it unchecked/);
  assert.equal(JSON.parse(unsigned.stdout).signature, "none");
  // The unsigned binary replaced the tampered one, and its stale .sig went with it.
  assert.deepEqual(await k0sFiles(storage), [`files/k0s/${NAME}`]);
});

Deno.test("registry --files-port 0 opens no k0s binaries listener", async () => {
  await using work = await workDir();
  const daemon = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    join(work.path, "storage"),
    "--files-port",
    "0",
  ]);
  try {
    const v2 = await fetch(`http://127.0.0.1:${daemon.port}/v2/`);
    assert.equal(v2.status, 200);
    await v2.body?.cancel();
  } finally {
    await daemon.stop();
  }
  assert.doesNotMatch(daemon.stderr(), /k0s binaries served/);
});

Deno.test("registry: a busy --files-port is one clear line and exit 1", async () => {
  await using work = await workDir();
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (busy.addr as Deno.NetAddr).port;
    const res = await runRegistryCli([
      "registry",
      "--host",
      "127.0.0.1",
      "--port",
      String(freePort()),
      "--files-port",
      String(port),
      "--storage",
      join(work.path, "storage"),
    ]);
    assertOneLineError(
      res,
      new RegExp(
        `Cannot listen on 127\\.0\\.0\\.1:${port} \\(--files-port\\): address already in use`,
      ),
    );
  } finally {
    busy.close();
  }
});

Deno.test("bundle load stores the k0s binaries in the bundle and beside it, signatures checked", async () => {
  await using work = await workDir();
  const p = (name: string) => join(work.path, name);
  const binary = await Deno.readFile(p(NAME));
  // The vendor's way: the arm64 binary and its .sig lie beside the bundle.
  await Deno.mkdir(p("media"));
  const bundle = p("media/airgap-bundle-1.2.3.tar.gz");
  await makeBundle(bundle, {
    images: 1,
    files: [
      { name: `k0s/${NAME}`, data: binary },
      { name: `k0s/${NAME}.sig`, data: await Deno.readFile(p(`${NAME}.sig`)) },
    ],
  });
  await signBlob(work.path, "media/airgap-bundle-1.2.3.tar.gz");
  await Deno.writeFile(p(`media/${ARM}`), randomBytes(100_000, 3));
  await signBlob(work.path, `media/${ARM}`);
  const storage = p("storage");
  const env = { K0RDENTD_CONFIG_FILE: "/dev/null" };
  const load = () =>
    runCli([
      "bundle",
      "load",
      bundle,
      "--storage",
      storage,
      "--cosign-key",
      p("cosign.pub"),
      "--output",
      "json",
    ], { env });
  let res = await load();
  assert.equal(res.code, 0, res.stderr);
  const stored = JSON.parse(res.stdout).k0sBinaries;
  assert.deepEqual(stored, [
    { name: NAME, size: binary.length, signature: "verified" },
    { name: ARM, size: 100_000, signature: "verified" },
  ]);
  assert.deepEqual(await k0sFiles(storage), [
    `files/k0s/${NAME}`,
    `files/k0s/${NAME}.sig`,
    `files/k0s/${ARM}`,
    `files/k0s/${ARM}.sig`,
  ]);
  assert.equal(sha256(await Deno.readFile(join(storage, "files/k0s", NAME))), sha256(binary));
  // A rerun writes nothing again.
  res = await load();
  assert.equal(res.code, 0, res.stderr);
  assert.ok(JSON.parse(res.stdout).alreadyLoaded);
  assert.equal(JSON.parse(res.stdout).k0sBinaries[1].present, true);
});

Deno.test("bundle load: a k0s binary whose .sig does not match fails the load; nothing is stored or tagged", async () => {
  await using work = await workDir();
  const p = (name: string) => join(work.path, name);
  const bundle = p("b.tar");
  await makeBundle(bundle, {
    images: 1,
    format: "tar",
    files: [
      { name: NAME, data: randomBytes(5000, 11) },
      { name: `${NAME}.sig`, data: await Deno.readFile(p(`${NAME}.sig`)) },
    ],
  });
  await signBlob(work.path, "b.tar");
  const storage = p("storage");
  const res = await runCli(
    ["bundle", "load", bundle, "--storage", storage, "--cosign-key", p("cosign.pub")],
    { env: { K0RDENTD_CONFIG_FILE: "/dev/null" } },
  );
  assertOneLineError(
    res,
    /Signature check of k0s binary ".*k0s-v1\.32\.6\+k0s\.0-amd64" in bundle ".*b\.tar" failed: .*nothing was loaded$/,
  );
  assert.deepEqual(await k0sFiles(storage), []);
  assert.deepEqual(await openDiskStorage(storage).listRepositories(), []);
});

Deno.test("registry --bundle-path serves the k0s binaries beside the bundle once it is loaded", async () => {
  await using work = await workDir();
  const bundle = join(work.path, "airgap-bundle-1.2.3.tar");
  await makeBundle(bundle, { images: 1, format: "tar" });
  const filesPort = freePort();
  const daemon = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    join(work.path, "storage"),
    "--files-port",
    String(filesPort),
    "--bundle-path",
    bundle,
    "--verify=false",
  ]);
  try {
    const url = `http://127.0.0.1:${filesPort}/${PREFIX}/${NAME}`;
    let res: Response | undefined;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      res = await fetch(url);
      if (res.status === 200) break;
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(res?.status, 200, daemon.stderr());
    assert.equal(sha256(new Uint8Array(await res!.arrayBuffer())), sha256(work.binary));
  } finally {
    await daemon.stop();
  }
  assert.match(
    daemon.stderr(),
    /Stored k0s binary "k0s-v1\.32\.6\+k0s\.0-amd64" .*signature not checked/,
  );
});

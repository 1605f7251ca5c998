// The registry daemon over a real socket with real skopeo (Debian package): copy in and out
// byte-identical, inspect, list-tags, delete, a multi-arch index with --all, cross-repo copy;
// then the same registry in `--tls auto` mode with the generated CA, and in htpasswd mode.
// The daemon runs as a subprocess with exactly REGISTRY_SERVE_PERMISSIONS.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  runRegistryCli,
  skopeo,
  startDaemon,
  tagLayout,
  writeImage,
  writeIndex,
} from "./registry_helpers.ts";
import { ignoreIf, needsTools } from "./helpers/tools.ts";

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

async function sameFile(a: string, b: string): Promise<void> {
  assert.deepEqual(await Deno.readFile(a), await Deno.readFile(b), `${a} differs from ${b}`);
}

const PLAIN = ["--src-tls-verify=false", "--dest-tls-verify=false"];

Deno.test(
  await needsTools(
    "skopeo: push, pull byte-identical, inspect, list-tags, cross-repo, --all, delete",
    "skopeo",
  ),
  async () => {
    await using work = await tempDir("registry-skopeo-");
    const storage = join(work.path, "storage");
    const daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage]);
    try {
      const reg = `127.0.0.1:${daemon.port}`;
      const src = join(work.path, "src");
      const image = await writeImage(src, [1 << 20, 3 << 20 | 12345]);
      await tagLayout(src, "v1", image);
      await skopeo(["copy", ...PLAIN, `oci:${src}:v1`, `docker://${reg}/team/app:v1`]);

      const raw = await skopeo([
        "inspect",
        "--tls-verify=false",
        "--raw",
        `docker://${reg}/team/app:v1`,
      ]);
      assert.equal(raw.stdout, new TextDecoder().decode(image.bytes));
      const info = JSON.parse(
        (await skopeo(["inspect", "--tls-verify=false", `docker://${reg}/team/app:v1`])).stdout,
      );
      assert.equal(info.Digest, image.digest);

      const out = join(work.path, "out");
      await skopeo(["copy", ...PLAIN, `docker://${reg}/team/app:v1`, `oci:${out}:v1`]);
      for await (const e of Deno.readDir(join(src, "blobs", "sha256"))) {
        await sameFile(join(src, "blobs", "sha256", e.name), join(out, "blobs", "sha256", e.name));
      }

      await skopeo([
        "copy",
        ...PLAIN,
        `docker://${reg}/team/app:v1`,
        `docker://${reg}/other/deep/app:v2`,
      ]);
      await skopeo(["copy", ...PLAIN, `oci:${src}:v1`, `docker://${reg}/team/app:v1.1`]);
      const tags = JSON.parse(
        (await skopeo(["list-tags", "--tls-verify=false", `docker://${reg}/team/app`])).stdout,
      );
      assert.deepEqual(tags.Tags, ["v1", "v1.1"]);
      const moved = JSON.parse(
        (await skopeo(["inspect", "--tls-verify=false", `docker://${reg}/other/deep/app:v2`]))
          .stdout,
      );
      assert.equal(moved.Digest, image.digest);

      const multi = join(work.path, "multi");
      const amd = await writeImage(multi, [200_000]);
      const arm = await writeImage(multi, [300_000], { os: "linux", architecture: "arm64" });
      const index = await writeIndex(multi, [
        { manifest: amd, platform: { os: "linux", architecture: "amd64" } },
        { manifest: arm, platform: { os: "linux", architecture: "arm64" } },
      ]);
      await tagLayout(multi, "latest", index);
      await skopeo([
        "copy",
        "--all",
        ...PLAIN,
        `oci:${multi}:latest`,
        `docker://${reg}/multi:latest`,
      ]);
      const rawIndex = await skopeo([
        "inspect",
        "--tls-verify=false",
        "--raw",
        `docker://${reg}/multi:latest`,
      ]);
      assert.equal(rawIndex.stdout, new TextDecoder().decode(index.bytes));
      const multiOut = join(work.path, "multi-out");
      await skopeo([
        "copy",
        "--all",
        ...PLAIN,
        `docker://${reg}/multi:latest`,
        `oci:${multiOut}:latest`,
      ]);
      for await (const e of Deno.readDir(join(multi, "blobs", "sha256"))) {
        await sameFile(
          join(multi, "blobs", "sha256", e.name),
          join(multiOut, "blobs", "sha256", e.name),
        );
      }

      await skopeo(["delete", "--tls-verify=false", `docker://${reg}/other/deep/app:v2`]);
      const gone = await skopeo(
        ["inspect", "--tls-verify=false", `docker://${reg}/other/deep/app:v2`],
        true,
      );
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /manifest unknown/i);

      const catalog = await (await fetch(`http://${reg}/v2/_catalog`)).json();
      assert.deepEqual(catalog.repositories, ["multi", "other/deep/app", "team/app"]);

      const verify = await runRegistryCli(["registry", "verify", "--storage", storage]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /3 repositories/);
    } finally {
      assert.equal(await daemon.stop("SIGTERM"), 0, daemon.stderr());
    }
    assert.match(daemon.stderr(), /Registry stopped/);
  },
);

Deno.test(
  await needsTools(
    "skopeo: --tls auto serves with a generated CA that is reused on restart",
    "skopeo",
    "openssl",
  ),
  async () => {
    await using work = await tempDir("registry-tls-");
    const storage = join(work.path, "storage");
    const certDir = join(work.path, "certs");
    await Deno.mkdir(certDir);
    const src = join(work.path, "src");
    const image = await writeImage(src, [100_000]);
    await tagLayout(src, "v1", image);
    let daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage, "--tls", "auto"]);
    let port = daemon.port;
    try {
      const ca = join(storage, "tls", "ca.crt");
      assert.match(daemon.stderr(), new RegExp(`trust the registry CA "${ca}"`));
      assert.equal((await Deno.stat(join(storage, "tls", "server.key"))).mode! & 0o077, 0);
      await Deno.copyFile(ca, join(certDir, "ca.crt"));
      await skopeo([
        "copy",
        "--dest-cert-dir",
        certDir,
        `oci:${src}:v1`,
        `docker://localhost:${port}/secure/app:v1`,
      ]);
      const noCa = await skopeo(["inspect", `docker://localhost:${port}/secure/app:v1`], true);
      assert.notEqual(noCa.code, 0, "without the CA the certificate is not trusted");
      assert.match(noCa.stderr, /certificate/i);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    const caBefore = await Deno.readTextFile(join(storage, "tls", "ca.crt"));
    daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage, "--tls", "auto"]);
    port = daemon.port;
    try {
      assert.equal(await Deno.readTextFile(join(storage, "tls", "ca.crt")), caBefore);
      const info = await skopeo([
        "inspect",
        "--cert-dir",
        certDir,
        `docker://127.0.0.1:${port}/secure/app:v1`,
      ]);
      assert.equal(JSON.parse(info.stdout).Digest, image.digest);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  },
);

Deno.test(
  await needsTools(
    "skopeo: htpasswd mode denies pushes without credentials and allows them with",
    "htpasswd",
    "skopeo",
  ),
  async () => {
    await using work = await tempDir("registry-auth-");
    const storage = join(work.path, "storage");
    const htpasswd = join(work.path, "htpasswd");
    const made = await new Deno.Command("htpasswd", {
      args: ["-Bbn", "pusher", "s3cret-pass"],
    }).output();
    assert.equal(made.code, 0);
    await Deno.writeFile(htpasswd, made.stdout);
    const src = join(work.path, "src");
    const image = await writeImage(src, [50_000]);
    await tagLayout(src, "v1", image);
    const daemon = await startDaemon([
      "--host",
      "127.0.0.1",
      "--storage",
      storage,
      "--htpasswd",
      htpasswd,
    ]);
    try {
      const reg = `127.0.0.1:${daemon.port}`;
      const denied = await skopeo(
        ["copy", ...PLAIN, `oci:${src}:v1`, `docker://${reg}/locked/app:v1`],
        true,
      );
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /unauthorized|authentication required/i);
      const wrong = await skopeo(
        [
          "copy",
          ...PLAIN,
          "--dest-creds",
          "pusher:nope",
          `oci:${src}:v1`,
          `docker://${reg}/locked/app:v1`,
        ],
        true,
      );
      assert.notEqual(wrong.code, 0);
      await skopeo([
        "copy",
        ...PLAIN,
        "--dest-creds",
        "pusher:s3cret-pass",
        `oci:${src}:v1`,
        `docker://${reg}/locked/app:v1`,
      ]);
      const pulled = await skopeo([
        "inspect",
        "--tls-verify=false",
        `docker://${reg}/locked/app:v1`,
      ]);
      assert.equal(JSON.parse(pulled.stdout).Digest, image.digest, "anonymous pulls stay open");
      assert.doesNotMatch(daemon.stderr(), /s3cret-pass/);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
  },
);

const external = Deno.networkInterfaces().find((n) =>
  n.family === "IPv4" && !n.address.startsWith("127.")
);

// Without a non-loopback IPv4 address the in-process access tests in registry_api_test.ts cover
// the loopback rule; this one needs a real second address.
Deno.test(
  ignoreIf(
    "a remote (non-loopback) client may pull but not push; --host is honoured",
    external ? undefined : "no non-loopback IPv4 address on this host",
  ),
  async () => {
    const address = external!.address;
    await using work = await tempDir("registry-remote-");
    const daemon = await startDaemon(["--host", "0.0.0.0", "--storage", join(work.path, "s")]);
    try {
      const base = `http://${address}:${daemon.port}`;
      const push = await fetch(`${base}/v2/r/blobs/uploads/`, { method: "POST" });
      assert.equal(push.status, 403);
      assert.equal((await push.json()).errors[0].code, "DENIED");
      const local = await fetch(`http://127.0.0.1:${daemon.port}/v2/r/blobs/uploads/`, {
        method: "POST",
      });
      assert.equal(local.status, 202);
      const pull = await fetch(`${base}/v2/_catalog`);
      assert.equal(pull.status, 200);
      await pull.body?.cancel();
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    // --host is honoured: bound to loopback, the external address does not answer.
    const local = await startDaemon(["--host", "127.0.0.1", "--storage", join(work.path, "l")]);
    try {
      await assert.rejects(fetch(`http://${address}:${local.port}/v2/`));
    } finally {
      assert.equal(await local.stop(), 0, local.stderr());
    }
  },
);

/**
 * `bundle push` against Debian's real `docker-registry` (CNCF Distribution 2.8), started here
 * on 127.0.0.1 with its own config: htpasswd (bcrypt, `htpasswd -B`) auth and TLS from a CA
 * made with openssl. Real skopeo then reads the pushed images. A rerun uploads nothing.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { runCli } from "./helpers/cli.ts";
import { freePort } from "./helpers/free_port.ts";
import { skopeo } from "./registry_helpers.ts";
import { needsTools } from "./helpers/tools.ts";

async function sh(cmd: string, cwd: string) {
  const out = await new Deno.Command("sh", { args: ["-c", cmd], cwd }).output();
  if (out.code !== 0) throw new Error(`${cmd}: ${new TextDecoder().decode(out.stderr)}`);
}

async function startDistribution(dir: string) {
  await sh(
    [
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 " +
      "-subj /CN=test-ca -keyout ca.key -out ca.crt 2>/dev/null",
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 " +
      "-keyout server.key -out server.csr 2>/dev/null",
      "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 " +
      "-extfile san.ext -out server.crt 2>/dev/null",
      "htpasswd -Bbn pusher s3cret > htpasswd",
      "mkdir -p certs && cp ca.crt certs/ca.crt",
    ].join(" && "),
    dir,
  );
  const port = freePort();
  await Deno.writeTextFile(
    join(dir, "config.yml"),
    `version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: ${join(dir, "data")}}
http:
  addr: 127.0.0.1:${port}
  tls: {certificate: ${join(dir, "server.crt")}, key: ${join(dir, "server.key")}}
auth:
  htpasswd: {realm: test, path: ${join(dir, "htpasswd")}}
`,
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", join(dir, "config.yml")],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(join(dir, "ca.crt"))] });
  const deadline = Date.now() + 15_000;
  while (true) {
    try {
      const res = await fetch(`https://127.0.0.1:${port}/v2/`, { client });
      await res.body?.cancel();
      if (res.status === 401) break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  client.close();
  return {
    port,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

Deno.test(
  await needsTools(
    "bundle push: into docker-registry with htpasswd and TLS; skopeo reads it; rerun uploads nothing",
    "openssl",
    "htpasswd",
    "docker-registry",
    "skopeo",
  ),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-push-" });
    const registry = await startDistribution(dir);
    try {
      const bundle = join(dir, "b.tar.gz");
      const contents = await makeBundle(bundle, { images: 3, layerSize: 20 * 1024 * 1024 });
      const args = [
        "bundle",
        "push",
        bundle,
        "--to",
        `127.0.0.1:${registry.port}/mirror`,
        "--ca-file",
        join(dir, "ca.crt"),
        "--username",
        "pusher",
        "--password-stdin",
        "--verify=false",
        "--output",
        "json",
      ];
      const first = await runCli(args, { stdin: "s3cret\n" });
      assert.equal(first.code, 0, first.stderr);
      const r1 = JSON.parse(first.stdout);
      assert.equal(r1.refs.length, contents.refs.size);
      assert.ok(r1.blobsUploaded > 0);
      assert.ok(r1.blobsMounted > 0);

      for (const [ref, digest] of contents.refs) {
        const raw = await skopeo([
          "inspect",
          "--raw",
          "--creds",
          "pusher:s3cret",
          "--cert-dir",
          join(dir, "certs"),
          `docker://127.0.0.1:${registry.port}/mirror/${ref}`,
        ]);
        const got = "sha256:" + createHash("sha256").update(raw.stdout).digest("hex");
        assert.equal(got, digest, ref);
      }
      // A layer blob (20 MiB, sent in chunks) comes back byte-identical.
      const out = join(dir, "pulled");
      await Deno.mkdir(out);
      await skopeo([
        "copy",
        "--src-creds",
        "pusher:s3cret",
        "--src-cert-dir",
        join(dir, "certs"),
        `docker://127.0.0.1:${registry.port}/mirror/capi/image-0:v1.0.0`,
        `oci:${out}:t`,
      ]);
      for await (const e of Deno.readDir(join(out, "blobs", "sha256"))) {
        const bytes = await Deno.readFile(join(out, "blobs", "sha256", e.name));
        assert.equal(createHash("sha256").update(bytes).digest("hex"), e.name);
      }

      const again = await runCli(args, { stdin: "s3cret\n" });
      assert.equal(again.code, 0, again.stderr);
      const r2 = JSON.parse(again.stdout);
      assert.equal(r2.blobsUploaded, 0, "a rerun uploads nothing");

      const denied = await runCli(args, { stdin: "wrong\n" });
      assert.equal(denied.code, 1);
      assert.match(denied.stderr, /Registry "127\.0\.0\.1:\d+" refused .*HTTP 401/);
    } finally {
      await registry.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

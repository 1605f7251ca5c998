// Crash safety: `kill -9` the registry daemon while a large upload streams in and while a tag
// is being moved back and forth; after a restart `registry verify` passes, the tag names one
// complete manifest, and nothing partial is visible.
import assert from "node:assert/strict";
import { join } from "node:path";
import { digestOf, Hasher } from "../src/registry/digest.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { randomBytes, runRegistryCli, startDaemon } from "./registry_helpers.ts";

const CHUNK = randomBytes(1 << 20);

/** A request body of `chunks` MiB, produced slowly enough that the kill lands mid-stream. */
function slowBody(chunks: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    async pull(c) {
      if (sent++ >= chunks) return c.close();
      await new Promise((r) => setTimeout(r, 20));
      c.enqueue(CHUNK.slice());
    },
  });
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) total += (await Deno.stat(join(dir, e.name))).size;
    }
  } catch {
    return 0;
  }
  return total;
}

Deno.test("kill -9 during a large upload and tag updates leaves a sound storage", async () => {
  const storage = await Deno.makeTempDir({ prefix: "registry-crash-" });
  try {
    let daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage]);
    const base = `http://127.0.0.1:${daemon.port}/v2/crash/app`;
    const put = (path: string, init: RequestInit) => fetch(`${base}${path}`, init);

    // Two complete images whose manifests the tag will flip between.
    const manifests: string[] = [];
    for (const name of ["one", "two"]) {
      const config = `{"image":"${name}"}`;
      const cfgDigest = digestOf(new TextEncoder().encode(config));
      let res = await put(`/blobs/uploads/?digest=${cfgDigest}`, { method: "POST", body: config });
      assert.equal(res.status, 201);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: {
          mediaType: "application/vnd.oci.image.config.v1+json",
          digest: cfgDigest,
          size: config.length,
        },
        layers: [],
        annotations: { padding: name.repeat(20_000) },
      });
      res = await put(`/manifests/${name}`, {
        method: "PUT",
        headers: { "Content-Type": MEDIA_TYPES.ociManifest },
        body: manifest,
      });
      assert.equal(res.status, 201);
      manifests.push(manifest);
    }
    const digests = manifests.map((m) => digestOf(new TextEncoder().encode(m)));

    // A chunked upload session (400 MiB) and a monolithic upload (200 MiB), streaming slowly.
    const session = await put("/blobs/uploads/", { method: "POST" });
    const location = session.headers.get("Location")!;
    const patch = fetch(`http://127.0.0.1:${daemon.port}${location}`, {
      method: "PATCH",
      body: slowBody(400),
      headers: { "Content-Type": "application/octet-stream" },
    }).catch(() => undefined);
    const hasher = new Hasher();
    for (let i = 0; i < 200; i++) hasher.update(CHUNK);
    const monoDigest = hasher.digest();
    const mono = put(`/blobs/uploads/?digest=${monoDigest}`, {
      method: "POST",
      body: slowBody(200),
    }).catch(() => undefined);

    // Flip the tag as fast as possible.
    let flips = 0;
    let stop = false;
    const flipper = (async () => {
      while (!stop) {
        try {
          const res = await put(`/manifests/t`, {
            method: "PUT",
            headers: { "Content-Type": MEDIA_TYPES.ociManifest },
            body: manifests[flips % 2],
          });
          await res.body?.cancel();
          flips++;
        } catch {
          return;
        }
      }
    })();

    const uploads = join(storage, "uploads");
    // Generous: on a loaded 2-core machine (the whole suite in parallel) progress is slow.
    const deadline = Date.now() + 120_000;
    // A tag write fsyncs, which on ext4 (data=ordered) waits for the upload's dirty data: with
    // other work on the disk (a loaded CI machine gave 2-3 flips a minute), a flip done and the
    // next one under way is what the kill must cut.
    while ((await dirSize(uploads)) < 16 << 20 || flips < 2) {
      assert.ok(
        Date.now() < deadline,
        `no progress: ${await dirSize(uploads)} bytes, ${flips} flips`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(await daemon.stop("SIGKILL"), 0);
    stop = true;
    await Promise.all([patch, mono, flipper]);

    daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage]);
    try {
      const url = `http://127.0.0.1:${daemon.port}/v2/crash/app`;
      const tagged = await fetch(`${url}/manifests/t`);
      assert.equal(tagged.status, 200);
      const body = await tagged.text();
      assert.ok(manifests.includes(body), "the tag names one complete manifest");
      assert.ok(digests.includes(tagged.headers.get("Docker-Content-Digest")!));
      const partial = await fetch(`${url}/blobs/${monoDigest}`, { method: "HEAD" });
      assert.equal(partial.status, 404);
      const status = await fetch(`http://127.0.0.1:${daemon.port}${location}`);
      assert.equal(status.status, 204, "the interrupted session is still there to resume");
      const tags = await (await fetch(`${url}/tags/list`)).json();
      assert.deepEqual(tags.tags, ["one", "t", "two"]);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr());
    }
    const verify = await runRegistryCli(["registry", "verify", "--storage", storage]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /3 manifests|2 manifests/);
    for await (const e of Deno.readDir(join(storage, "blobs", "sha256"))) {
      for await (const b of Deno.readDir(join(storage, "blobs", "sha256", e.name))) {
        assert.ok(!b.name.startsWith("."), `temp file visible in the blob store: ${b.name}`);
      }
    }
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

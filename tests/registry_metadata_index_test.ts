/**
 * The daemon's in-memory index of tags, revisions and links (`metadata_index.ts`) against writes
 * by another process into the storage it serves: a tag moved, a tag and a manifest deleted, a
 * gc, each seen by the very next read over the socket while other clients read the same
 * references the whole time (so the index is warm, not empty); and the daemon's own PUT and
 * DELETE. Bundle loads by another process are covered by tests/bundle_upgrade_storage_test.ts.
 */
import assert from "node:assert/strict";
import { collectGarbage } from "../src/registry/gc.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { storeManifest } from "./helpers/store_image.ts";
import { startDaemon } from "./registry_helpers.ts";

const REPO = "team/app";

Deno.test("registry index: writes by another process reach the daemon's next read, under concurrent reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "metadata-index-" });
  const daemon = await startDaemon(["--storage", dir, "--host", "127.0.0.1"]);
  const base = `http://127.0.0.1:${daemon.port}/v2/${REPO}`;
  const accept = { Accept: `${MEDIA_TYPES.ociManifest}, ${MEDIA_TYPES.ociIndex}` };
  /** Status and digest of a manifest read (GET or HEAD). */
  const read = async (ref: string, method = "GET") => {
    const res = await fetch(`${base}/manifests/${ref}`, { method, headers: accept });
    await res.body?.cancel();
    return { status: res.status, digest: res.headers.get("Docker-Content-Digest") };
  };
  const blobHead = async (digest: string) => {
    const res = await fetch(`${base}/blobs/${digest}`, { method: "HEAD" });
    await res.body?.cancel();
    return res.status;
  };
  // Another process's writer: this test process, on the daemon's directory.
  const writer = openDiskStorage(dir);
  const a = await storeManifest(writer, REPO, "amd64", "v1");
  let stop = false;
  const failures: string[] = [];
  const watched = new Set<string>(["v1", "v2", a.digest]);
  const readers = Array.from({ length: 8 }, async () => {
    while (!stop) {
      for (const ref of [...watched]) {
        const r = await read(ref, Math.random() < 0.5 ? "GET" : "HEAD");
        if (r.status !== 200 && r.status !== 404) failures.push(`${ref}: ${r.status}`);
      }
      const status = await blobHead(a.layer.digest);
      if (status !== 200 && status !== 404) failures.push(`blob: ${status}`);
    }
  });
  try {
    assert.deepEqual(await read("v1"), { status: 200, digest: a.digest });
    assert.equal((await read("v2")).status, 404);
    assert.equal(await blobHead(a.layer.digest), 200);

    // A tag moved by another process.
    const b = await storeManifest(writer, REPO, "arm64", "v1");
    watched.add(b.digest);
    assert.deepEqual(await read("v1"), { status: 200, digest: b.digest });
    assert.deepEqual(await read("v1", "HEAD"), { status: 200, digest: b.digest });
    // A tag created where the daemon had read none.
    await writer.tagManifest(REPO, "v2", a.digest);
    assert.deepEqual(await read("v2", "HEAD"), { status: 200, digest: a.digest });
    // A tag deleted.
    assert.ok(await writer.deleteTag(REPO, "v2"));
    assert.equal((await read("v2")).status, 404);
    // A manifest deleted (with its tag): gone by digest and by tag.
    await writer.tagManifest(REPO, "v2", a.digest);
    assert.equal((await read("v2")).status, 200);
    assert.ok(await writer.deleteManifest(REPO, a.digest));
    assert.equal((await read(a.digest)).status, 404);
    assert.equal((await read(a.digest, "HEAD")).status, 404);
    assert.equal((await read("v2")).status, 404);
    // gc by another process: a's blobs are no longer referenced; their links go too.
    assert.equal(await blobHead(a.layer.digest), 200);
    const report = await collectGarbage(writer, { dryRun: false, graceMs: 0 });
    assert.ok(report.blobs.some((x) => x.digest === a.layer.digest));
    assert.equal(await blobHead(a.layer.digest), 404);
    assert.equal(await blobHead(b.layer.digest), 200);

    // The daemon's own writes: a PUT moving the tag back, a DELETE of the tag.
    const c = await storeManifest(writer, REPO, "s390x");
    const bytes = await (await fetch(`${base}/manifests/${c.digest}`, { headers: accept }))
      .bytes();
    const put = await fetch(`${base}/manifests/v1`, {
      method: "PUT",
      headers: { "Content-Type": MEDIA_TYPES.ociManifest },
      body: bytes,
    });
    await put.body?.cancel();
    assert.equal(put.status, 201);
    assert.deepEqual(await read("v1"), { status: 200, digest: c.digest });
    // ... which another process sees at once, too.
    assert.equal(await writer.resolveTag(REPO, "v1"), c.digest);
    const del = await fetch(`${base}/manifests/v1`, { method: "DELETE" });
    await del.body?.cancel();
    assert.equal(del.status, 202);
    assert.equal((await read("v1")).status, 404);
    assert.equal(await writer.resolveTag(REPO, "v1"), undefined);
  } finally {
    stop = true;
    await Promise.all(readers);
    assert.equal(await daemon.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepEqual(failures, []);
});

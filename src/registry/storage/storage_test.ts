// One behaviour suite for the registry storage, run against the disk driver and the memory
// driver; every case also fails when temp files or upload data are left behind.
import assert from "node:assert/strict";
import { digestOf } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { MEDIA_TYPES } from "../manifest.ts";
import type { StorageDriver } from "./driver.ts";
import { RegistryStorage } from "./storage.ts";
import { assertNoLeftovers, STORAGE_DRIVERS } from "../../../tests/helpers/storage_drivers.ts";

const enc = new TextEncoder();

interface Fixture {
  driver: StorageDriver;
  storage: RegistryStorage;
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected RegistryError, got ${err}`);
    assert.equal(err.code, code);
    return true;
  });
}

function chunks(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

/** Pushes a config and a layer into `repo` and returns an image manifest referencing them. */
async function image(
  storage: RegistryStorage,
  repo: string,
  layer: string,
  extra: Record<string, unknown> = {},
): Promise<Uint8Array> {
  const config = await storage.putBlob(enc.encode(`{"layer":"${layer}"}`));
  const data = await storage.putBlob(enc.encode(layer));
  await storage.linkBlob(repo, config.digest);
  await storage.linkBlob(repo, data.digest);
  return enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...data }],
    ...extra,
  }));
}

type Case = (f: Fixture) => Promise<void>;

const CASES: Record<string, Case> = {
  "putBlob() stores a stream once, hashed while written, readable whole and by range": async (
    { storage },
  ) => {
    const info = await storage.putBlob(chunks("hello ", "world"));
    assert.equal(info.digest, digestOf(enc.encode("hello world")));
    assert.equal(info.size, 11);
    assert.ok(await storage.hasBlob(info.digest));
    const whole = await storage.openBlob(info.digest);
    assert.equal(await text(whole!.stream), "hello world");
    const part = await storage.openBlob(info.digest, { offset: 6, length: 3 });
    assert.equal(part!.size, 11);
    assert.equal(await text(part!.stream), "wor");
    const again = await storage.putBlob(enc.encode("hello world"), { digest: info.digest });
    assert.deepEqual(again, info);
  },
  "putBlob() refuses a wrong digest or size and stores nothing": async ({ storage }) => {
    const wrong = digestOf(enc.encode("other"));
    await rejectsWith(storage.putBlob(chunks("data"), { digest: wrong }), "DIGEST_INVALID");
    assert.equal(await storage.hasBlob(digestOf(enc.encode("data"))), false);
    assert.equal(await storage.hasBlob(wrong), false);
    await rejectsWith(storage.putBlob(chunks("data"), { size: 3 }), "SIZE_INVALID");
    await rejectsWith(storage.putBlob(chunks("x"), { digest: "sha256:zz" }), "DIGEST_INVALID");
    assert.equal(await storage.statBlob(digestOf(enc.encode("data"))), undefined);
  },
  "putBlob() cleans up when the body stream fails": async ({ storage }) => {
    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("partial"));
        c.error(new Error("connection reset"));
      },
    });
    await assert.rejects(storage.putBlob(failing), /connection reset/);
    assert.equal(await storage.hasBlob(digestOf(enc.encode("partial"))), false);
  },
  "putBlob() supports sha512": async ({ storage }) => {
    const digest = digestOf(enc.encode("abc"), "sha512");
    const info = await storage.putBlob(chunks("a", "bc"), { digest });
    assert.equal(info.digest, digest);
    assert.equal(await text((await storage.openBlob(digest))!.stream), "abc");
  },
  "concurrent putBlob() of the same content both succeed": async ({ storage }) => {
    const body = "same".repeat(10_000);
    const [a, b] = await Promise.all([
      storage.putBlob(enc.encode(body)),
      storage.putBlob(chunks(body.slice(0, 7), body.slice(7))),
    ]);
    assert.deepEqual(a, b);
    assert.equal(await text((await storage.openBlob(a.digest))!.stream), body);
  },
  "chunked uploads check offsets and survive a restart": async ({ driver, storage }) => {
    const id = await storage.startUpload();
    assert.equal(await storage.appendUpload(id, enc.encode("abc"), 0), 3);
    await rejectsWith(storage.appendUpload(id, enc.encode("zzz"), 0), "RANGE_INVALID");
    assert.equal(await storage.uploadSize(id), 3);
    // A new storage object on the same files (a restart) continues the upload.
    const restarted = new RegistryStorage(driver);
    assert.equal(await restarted.appendUpload(id, chunks("de", "f"), 3), 6);
    await rejectsWith(
      restarted.commitUpload(id, { digest: digestOf(enc.encode("abcdeX")) }),
      "DIGEST_INVALID",
    );
    assert.equal(await restarted.uploadSize(id), undefined, "a failed commit removes the upload");
    const id2 = await storage.startUpload();
    await storage.appendUpload(id2, enc.encode("abcdef"));
    const info = await storage.commitUpload(id2, {
      digest: digestOf(enc.encode("abcdef")),
      size: 6,
    });
    assert.equal(info.size, 6);
    await rejectsWith(storage.appendUpload(id2, enc.encode("x")), "BLOB_UPLOAD_UNKNOWN");
  },
  "a chunk whose length disagrees with the announced one appends nothing": async ({ storage }) => {
    const id = await storage.startUpload();
    assert.equal(await storage.appendUpload(id, enc.encode("abc"), 0, 3), 3);
    // Longer (a stream, so the excess is found while reading) and shorter than announced.
    await rejectsWith(storage.appendUpload(id, chunks("d", "efghij"), 3, 2), "RANGE_INVALID");
    assert.equal(await storage.uploadSize(id), 3);
    await rejectsWith(storage.appendUpload(id, enc.encode("d"), 3, 2), "RANGE_INVALID");
    assert.equal(await storage.uploadSize(id), 3);
    // A body that fails half-way leaves nothing of it either.
    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("de"));
        c.error(new Error("connection reset"));
      },
    });
    await assert.rejects(storage.appendUpload(id, failing, 3, 3), /connection reset/);
    assert.equal(await storage.uploadSize(id), 3);
    // The hash followed the data back: the upload still commits to the right digest.
    assert.equal(await storage.appendUpload(id, enc.encode("def"), 3, 3), 6);
    const info = await storage.commitUpload(id, { digest: digestOf(enc.encode("abcdef")) });
    assert.equal(info.size, 6);
  },
  "cancelUpload() removes the data; unknown ids are refused": async ({ storage }) => {
    const id = await storage.startUpload();
    await storage.appendUpload(id, enc.encode("abc"));
    assert.equal((await storage.listUploads()).length, 1);
    assert.equal(await storage.cancelUpload(id), true);
    assert.equal(await storage.cancelUpload(id), false);
    await rejectsWith(storage.appendUpload("../../etc", enc.encode("x")), "BLOB_UPLOAD_UNKNOWN");
    assert.equal(await storage.uploadSize("not-an-id"), undefined);
  },
  "blob links are per repository; mountBlob() links across": async ({ storage }) => {
    const info = await storage.putBlob(enc.encode("layer"));
    await rejectsWith(storage.linkBlob("a/b", digestOf(enc.encode("nope"))), "BLOB_UNKNOWN");
    await storage.linkBlob("a/b", info.digest);
    assert.deepEqual(await storage.statRepoBlob("a/b", info.digest), info);
    assert.equal(await storage.statRepoBlob("c", info.digest), undefined);
    assert.deepEqual(await storage.mountBlob("a/b", "c", info.digest), info);
    assert.equal(await storage.mountBlob("zzz", "d", info.digest), undefined);
    assert.equal(await storage.unlinkBlob("a/b", info.digest), true);
    assert.equal(await storage.statRepoBlob("a/b", info.digest), undefined);
    assert.ok(await storage.hasBlob(info.digest), "content stays until gc");
    await rejectsWith(storage.linkBlob("Bad/Name", info.digest), "NAME_INVALID");
  },
  "putManifest() validates, stores and tags; getManifest() by tag and digest": async (
    { storage },
  ) => {
    const bytes = await image(storage, "team/app", "l1");
    await rejectsWith(
      storage.putManifest("other", bytes, { reference: "v1" }),
      "MANIFEST_BLOB_UNKNOWN",
    );
    await rejectsWith(
      storage.putManifest("team/app", enc.encode("{nope"), { reference: "v1" }),
      "MANIFEST_INVALID",
    );
    await rejectsWith(
      storage.putManifest("team/app", bytes, { reference: digestOf(enc.encode("x")) }),
      "DIGEST_INVALID",
    );
    await rejectsWith(
      storage.putManifest("team/app", bytes, { reference: "-bad" }),
      "TAG_INVALID",
    );
    const { digest } = await storage.putManifest("team/app", bytes, { reference: "v1" });
    assert.equal(digest, digestOf(bytes));
    const byTag = await storage.getManifest("team/app", "v1");
    assert.equal(byTag?.digest, digest);
    assert.equal(byTag?.mediaType, MEDIA_TYPES.ociManifest);
    assert.deepEqual(byTag?.bytes, bytes);
    assert.equal((await storage.getManifest("team/app", digest))?.digest, digest);
    assert.equal(await storage.getManifest("other", digest), undefined);
    assert.equal(await storage.getManifest("team/app", "v2"), undefined);
    await storage.tagManifest("team/app", "latest", digest);
    assert.deepEqual(await storage.listTags("team/app"), ["latest", "v1"]);
    assert.equal(await storage.listTags("nope"), undefined);
    assert.deepEqual(await storage.listRevisions("team/app"), [digest]);
  },
  "putManifest() refuses descriptor sizes that disagree with the stored content": async (
    { storage },
  ) => {
    const good = JSON.parse(new TextDecoder().decode(await image(storage, "r", "layer")));
    const layer = good.layers[0];
    const lying = enc.encode(JSON.stringify({
      ...good,
      layers: [{ ...layer, size: layer.size + 1000 }],
    }));
    await assert.rejects(
      storage.putManifest("r", lying, { reference: "v1" }),
      (err: unknown) => {
        assert.ok(err instanceof RegistryError && err.code === "MANIFEST_INVALID");
        assert.equal(
          err.message,
          `Manifest invalid: it declares ${layer.size + 1000} bytes for "${layer.digest}", ` +
            `which has ${layer.size}`,
        );
        assert.deepEqual(err.detail, {
          digest: layer.digest,
          size: layer.size + 1000,
          stored: layer.size,
        });
        return true;
      },
    );
    assert.equal(await storage.getManifest("r", "v1"), undefined, "nothing was stored");
    const child = enc.encode(JSON.stringify(good));
    const { digest } = await storage.putManifest("r", child);
    const index = (size: number) =>
      enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest, size }],
      }));
    await rejectsWith(storage.putManifest("r", index(child.length - 1)), "MANIFEST_INVALID");
    await storage.putManifest("r", index(child.length), { reference: "multi" });
  },
  "a tag moves atomically between complete manifests": async ({ storage }) => {
    const one = await image(storage, "r", "one");
    const two = await image(storage, "r", "two");
    const a = await storage.putManifest("r", one, { reference: "t" });
    const b = await storage.putManifest("r", two, { reference: "t" });
    assert.equal((await storage.getManifest("r", "t"))?.digest, b.digest);
    assert.equal((await storage.getManifest("r", a.digest))?.digest, a.digest);
    await Promise.all([
      storage.putManifest("r", one, { reference: "t" }),
      storage.putManifest("r", two, { reference: "t" }),
    ]);
    const now = (await storage.getManifest("r", "t"))!.digest;
    assert.ok(now === a.digest || now === b.digest);
  },
  "an index needs its child manifests in the repository": async ({ storage }) => {
    const child = await image(storage, "multi", "amd64");
    const childDigest = digestOf(child);
    const index = enc.encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: childDigest, size: child.length }],
    }));
    await rejectsWith(
      storage.putManifest("multi", index, { reference: "x" }),
      "MANIFEST_BLOB_UNKNOWN",
    );
    await storage.putManifest("multi", child);
    const { digest } = await storage.putManifest("multi", index, { reference: "x" });
    assert.equal((await storage.getManifest("multi", "x"))?.mediaType, MEDIA_TYPES.ociIndex);
    assert.equal(digest, digestOf(index));
  },
  "referrers() lists manifests by subject with an artifactType filter": async ({ storage }) => {
    const subject = await image(storage, "s", "base");
    const s = await storage.putManifest("s", subject, { reference: "v1" });
    const subjectDesc = { mediaType: MEDIA_TYPES.ociManifest, digest: s.digest, size: 1 };
    const sig = await image(storage, "s", "sig", {
      artifactType: "application/example.sig",
      subject: subjectDesc,
      annotations: { "org.example": "yes" },
    });
    const sbom = await image(storage, "s", "sbom", {
      artifactType: "application/example.sbom",
      subject: subjectDesc,
    });
    const r1 = await storage.putManifest("s", sig);
    assert.equal(r1.subject, s.digest);
    await storage.putManifest("s", sbom);
    const all = await storage.referrers("s", s.digest);
    assert.equal(all.length, 2);
    const sigs = await storage.referrers("s", s.digest, "application/example.sig");
    assert.deepEqual(sigs, [{
      mediaType: MEDIA_TYPES.ociManifest,
      digest: r1.digest,
      size: sig.length,
      artifactType: "application/example.sig",
      annotations: { "org.example": "yes" },
    }]);
    assert.equal(await storage.deleteManifest("s", r1.digest), true);
    assert.equal((await storage.referrers("s", s.digest)).length, 1);
  },
  "deleteManifest() removes its tags; deleteTag() only the tag": async ({ storage }) => {
    const bytes = await image(storage, "d", "x");
    const { digest } = await storage.putManifest("d", bytes, { reference: "a" });
    await storage.tagManifest("d", "b", digest);
    assert.equal(await storage.deleteTag("d", "b"), true);
    assert.equal(await storage.deleteTag("d", "b"), false);
    assert.ok(await storage.getManifest("d", digest));
    assert.equal(await storage.deleteManifest("d", digest), true);
    assert.equal(await storage.deleteManifest("d", digest), false);
    assert.deepEqual(await storage.listTags("d"), []);
    assert.equal(await storage.getManifest("d", "a"), undefined);
    assert.equal(await storage.getManifest("d", digest), undefined);
  },
  "listRepositories() finds names with slashes, sorted": async ({ storage }) => {
    for (const repo of ["b", "a/b/c", "a", "k0rdent-enterprise/charts/x"]) {
      await storage.putManifest(repo, await image(storage, repo, repo), { reference: "v" });
    }
    const shared = await storage.putBlob(enc.encode("only linked"));
    await storage.linkBlob("linked/only", shared.digest);
    assert.deepEqual(await storage.listRepositories(), [
      "a",
      "a/b/c",
      "b",
      "k0rdent-enterprise/charts/x",
    ]);
  },
  "a second storage on the same files sees new tags at once": async ({ driver, storage }) => {
    const other = new RegistryStorage(driver);
    const bytes = await image(storage, "shared", "v1");
    const v1 = await storage.putManifest("shared", bytes, { reference: "t" });
    assert.equal((await other.getManifest("shared", "t"))?.digest, v1.digest);
    const bytes2 = await image(other, "shared", "v2");
    const v2 = await other.putManifest("shared", bytes2, { reference: "t" });
    assert.equal((await storage.getManifest("shared", "t"))?.digest, v2.digest);
    assert.deepEqual(await storage.listTags("shared"), ["t"]);
  },
  "deleteBlob() removes content from the store": async ({ storage }) => {
    const info = await storage.putBlob(enc.encode("gone"));
    assert.equal(await storage.deleteBlob(info.digest), true);
    assert.equal(await storage.hasBlob(info.digest), false);
    assert.equal(await storage.openBlob(info.digest), undefined);
    const listed: string[] = [];
    for await (const b of storage.listBlobs()) listed.push(b.digest);
    assert.ok(!listed.includes(info.digest));
  },
};

for (const d of STORAGE_DRIVERS) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`RegistryStorage (${d.name}): ${name}`, async () => {
      const { driver, cleanup } = await d.make();
      try {
        await fn({ driver, storage: new RegistryStorage(driver) });
        await assertNoLeftovers(driver);
      } finally {
        await cleanup();
      }
    });
  }
}

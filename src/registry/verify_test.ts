// verifyStorage() on the memory storage: a sound store passes; damage of each kind is reported.
import assert from "node:assert/strict";
import { storeManifest } from "../../tests/helpers/store_image.ts";
import { digestOf } from "./digest.ts";
import { MEDIA_TYPES } from "./manifest.ts";
import { layout } from "./storage/layout.ts";
import { openMemoryStorage } from "./storage/storage.ts";
import { verifyStorage } from "./verify.ts";

const enc = new TextEncoder();

async function fixture() {
  const storage = openMemoryStorage();
  const { layer, digest } = await storeManifest(storage, "app", "amd64", "v1");
  return { storage, layer, digest };
}

Deno.test("verifyStorage() passes a sound storage", async () => {
  const { storage } = await fixture();
  const report = await verifyStorage(storage);
  assert.deepEqual(report.problems, []);
  assert.equal(report.blobs, 3);
  assert.equal(report.manifests, 1);
  assert.equal(report.tags, 1);
});

Deno.test("verifyStorage() reports a damaged blob, a missing layer and a dangling tag", async () => {
  const { storage, layer, digest } = await fixture();
  await storage.driver.writeFile(layout.blob(layer.digest), enc.encode("LAYER"));
  let report = await verifyStorage(storage);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0], new RegExp(`Blob "${layer.digest}" is damaged`));
  await storage.deleteBlob(layer.digest);
  report = await verifyStorage(storage);
  assert.match(report.problems.join("\n"), /references missing blob/);
  await storage.driver.writeFile(layout.tag("app", "v2"), enc.encode("sha256:" + "0".repeat(64)));
  await storage.deleteManifest("app", digest);
  report = await verifyStorage(storage);
  assert.match(report.problems.join("\n"), /Tag "app:v2" points at missing manifest/);
});

Deno.test("verifyStorage() reports a manifest whose descriptor size disagrees with the blob", async () => {
  const { storage, layer } = await fixture();
  const config = (await storeManifest(storage, "app", "arm64")).config;
  // As an older version (or distribution) accepted it: stored past putManifest()'s check.
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { ...config, mediaType: "application/vnd.oci.image.config.v1+json" },
    layers: [{ ...layer, size: 1, mediaType: "application/vnd.oci.image.layer.v1.tar" }],
  }));
  const digest = digestOf(bytes);
  await storage.driver.writeFile(layout.blob(digest), bytes);
  await storage.driver.writeFile(layout.revision("app", digest), new Uint8Array());
  const report = await verifyStorage(storage);
  assert.deepEqual(report.problems, [
    `Manifest "app@${digest}" declares 1 bytes for "${layer.digest}", which has ${layer.size} ` +
    "(pulls fail with a size mismatch)",
  ]);
});

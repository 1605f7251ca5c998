// verifyStorage() on the memory storage: a sound store passes; damage of each kind is reported.
import assert from "node:assert/strict";
import { storeManifest } from "../../tests/helpers/store_image.ts";
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

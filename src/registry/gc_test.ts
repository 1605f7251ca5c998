// collectGarbage() on the memory storage: what is removed, what is kept, and dry runs.
import assert from "node:assert/strict";
import { storeManifest } from "../../tests/helpers/store_image.ts";
import { collectGarbage } from "./gc.ts";
import { layout } from "./storage/layout.ts";
import { openMemoryStorage } from "./storage/storage.ts";

const enc = new TextEncoder();
const HOUR = 3_600_000;

async function fixture() {
  const storage = openMemoryStorage();
  const { layer, config } = await storeManifest(storage, "app", "amd64", "v1");
  const orphan = await storage.putBlob(enc.encode("orphan"));
  await storage.linkBlob("app", orphan.digest);
  const upload = await storage.startUpload();
  await storage.driver.writeFile(`${layout.tags("app")}/.crashed.tmp`, enc.encode("sha256:x"));
  return { storage, layer, config, orphan, upload };
}

Deno.test("collectGarbage() removes unreferenced old blobs, their links, stale uploads and temps", async () => {
  const { storage, layer, config, orphan, upload } = await fixture();
  const report = await collectGarbage(storage, { dryRun: false, now: Date.now() + 2 * 24 * HOUR });
  assert.deepEqual(report.blobs.map((b) => b.digest), [orphan.digest]);
  assert.equal(report.links, 1);
  assert.deepEqual(report.uploads, [upload]);
  assert.equal(report.tempFiles, 1);
  assert.equal(await storage.hasBlob(orphan.digest), false);
  assert.equal(await storage.statRepoBlob("app", orphan.digest), undefined);
  assert.ok(await storage.hasBlob(layer.digest));
  assert.ok(await storage.hasBlob(config.digest));
  assert.ok(await storage.getManifest("app", "v1"));
  assert.equal(await storage.uploadSize(upload), undefined);
});

Deno.test("collectGarbage() keeps young blobs and changes nothing in a dry run", async () => {
  const { storage, orphan, upload } = await fixture();
  let report = await collectGarbage(storage, { dryRun: false });
  assert.deepEqual(report.blobs, [], "within the grace period nothing goes");
  report = await collectGarbage(storage, { dryRun: true, now: Date.now() + 2 * 24 * HOUR });
  assert.equal(report.blobs.length, 1);
  assert.equal(report.tempFiles, 1);
  assert.ok(await storage.hasBlob(orphan.digest));
  assert.equal(await storage.uploadSize(upload), 0);
});

Deno.test("collectGarbage() with `without` reports what removing those manifests would free", async () => {
  const storage = openMemoryStorage();
  const kept = await storeManifest(storage, "app", "amd64", "v1");
  const gone = await storeManifest(storage, "app", "arm64", "v2");
  const later = Date.now() + 2 * 24 * HOUR;
  const report = await collectGarbage(storage, {
    dryRun: true,
    now: later,
    without: new Set([`app@${gone.digest}`]),
  });
  assert.deepEqual(
    report.blobs.map((b) => b.digest).sort(),
    [gone.digest, gone.config.digest, gone.layer.digest].sort(),
  );
  assert.ok(await storage.hasBlob(gone.digest), "a dry run removes nothing");
  await storage.deleteManifest("app", gone.digest);
  const real = await collectGarbage(storage, { dryRun: false, now: later });
  assert.deepEqual(real.blobs, report.blobs);
  assert.ok(await storage.getManifest("app", kept.digest));
});

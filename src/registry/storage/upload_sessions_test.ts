// UploadSessions on the disk and memory drivers: bound to their repository across a restart,
// capped per client and in total, expired by age, and leaving no files behind.
import assert from "node:assert/strict";
import { digestOf } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { openDiskStorage, openMemoryStorage, type RegistryStorage } from "./storage.ts";
import { UploadSessions } from "./upload_sessions.ts";

const enc = new TextEncoder();
const LIMITS = { maxSessions: 4, maxPerClient: 3, expiryMs: 3_600_000 };

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `expected RegistryError, got ${err}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const STORAGES: [string, () => Promise<{ storage: RegistryStorage; done(): Promise<void> }>][] = [
  [
    "memory",
    () => Promise.resolve({ storage: openMemoryStorage(), done: () => Promise.resolve() }),
  ],
  ["disk", async () => {
    const dir = await Deno.makeTempDir();
    return { storage: openDiskStorage(dir), done: () => Deno.remove(dir, { recursive: true }) };
  }],
];

for (const [name, make] of STORAGES) {
  Deno.test(`UploadSessions (${name}) binds a session to its repository, also after a restart`, async () => {
    const { storage, done } = await make();
    try {
      const sessions = new UploadSessions(storage, LIMITS);
      const id = await sessions.start("team/app", "10.0.0.1");
      await sessions.check("team/app", id);
      await rejectsWith(sessions.check("other/app", id), "BLOB_UPLOAD_UNKNOWN", /"other\/app"/);
      await rejectsWith(sessions.check("team/app", crypto.randomUUID()), "BLOB_UPLOAD_UNKNOWN");
      // A restart: a new object on the same storage, loaded from the records.
      const restarted = new UploadSessions(storage, LIMITS);
      await restarted.load();
      assert.equal(restarted.size, 1);
      await restarted.check("team/app", id);
      await rejectsWith(restarted.check("other/app", id), "BLOB_UPLOAD_UNKNOWN");
      // Finishing removes the data, and settle() the record.
      await storage.appendUpload(id, enc.encode("data"));
      await storage.commitUpload(id, { digest: digestOf(enc.encode("data")) });
      await restarted.settle(id);
      assert.equal(restarted.size, 0);
      await rejectsWith(restarted.check("team/app", id), "BLOB_UPLOAD_UNKNOWN");
      assert.deepEqual(await storage.driver.list("uploads"), []);
    } finally {
      await done();
    }
  });

  Deno.test(`UploadSessions (${name}) caps sessions per client and in total`, async () => {
    const { storage, done } = await make();
    try {
      const sessions = new UploadSessions(storage, LIMITS);
      const mine = [];
      for (let i = 0; i < 3; i++) mine.push(await sessions.start("a", "10.0.0.1"));
      await rejectsWith(
        sessions.start("a", "10.0.0.1"),
        "TOO_MANY_REQUESTS",
        /^Too many upload sessions are open from 10\.0\.0\.1 \(3\): finish or cancel some, or wait for abandoned ones to expire after 1h$/,
      );
      await sessions.start("a", "10.0.0.2");
      await rejectsWith(
        sessions.start("a", "10.0.0.3"),
        "TOO_MANY_REQUESTS",
        /^Too many upload sessions are open \(4\)/,
      );
      assert.equal(await sessions.cancel(mine[0]), true);
      await sessions.start("a", "10.0.0.1");
      assert.equal(sessions.size, 4);
    } finally {
      await done();
    }
  });

  Deno.test(`UploadSessions (${name}) expires sessions untouched for the expiry`, async () => {
    const { storage, done } = await make();
    try {
      let now = Date.now();
      const sessions = new UploadSessions(storage, LIMITS, () => now);
      const stale = await sessions.start("a", "10.0.0.1");
      await storage.appendUpload(stale, enc.encode("abc"));
      now += LIMITS.expiryMs / 2;
      const fresh = await sessions.start("a", "10.0.0.1");
      assert.equal(await sessions.expire(), 0, "nothing is old enough yet");
      now += LIMITS.expiryMs / 2 + 1000;
      assert.equal(await sessions.expire(), 1);
      await rejectsWith(sessions.check("a", stale), "BLOB_UPLOAD_UNKNOWN");
      assert.equal(await storage.uploadSize(stale), undefined, "its data is gone");
      await sessions.check("a", fresh);
      // At the cap, starting a session expires stale ones first instead of refusing.
      for (let i = 0; i < 2; i++) await sessions.start("a", "10.0.0.1");
      now += LIMITS.expiryMs + 1000;
      await sessions.start("a", "10.0.0.1");
      assert.equal(sessions.size, 1);
      assert.equal((await storage.driver.list("uploads")).length, 2, "one data file + record");
    } finally {
      await done();
    }
  });
}

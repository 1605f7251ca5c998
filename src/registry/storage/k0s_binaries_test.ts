// One behaviour suite for the k0s binaries store, run against the disk driver and the memory
// driver; every case also fails when temp files or upload data are left behind.
import assert from "node:assert/strict";
import type { StorageDriver } from "./driver.ts";
import { K0sBinaryStore } from "./k0s_binaries.ts";
import { layout } from "./layout.ts";
import { MemoryDriver } from "./memory_driver.ts";
import { hashBytes } from "../../hash/sha.ts";
import { assertNoLeftovers, STORAGE_DRIVERS } from "../../../tests/helpers/storage_drivers.ts";

const enc = new TextEncoder();
const NAME = "k0s-v1.32.6+k0s.0-amd64";

function chunks(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(enc.encode(p));
      c.close();
    },
  });
}

async function text(stream: ReadableStream<Uint8Array> | undefined): Promise<string> {
  assert.ok(stream, "expected a stream");
  return await new Response(stream).text();
}

type Case = (store: K0sBinaryStore, driver: StorageDriver) => Promise<void>;

const CASES: Record<string, Case> = {
  "stage() hides the binary until commit(), which stores it and its signature": async (store) => {
    const seen: string[] = [];
    const staged = await store.stage(
      NAME,
      chunks("k0s ", "binary"),
      (c) => seen.push(new TextDecoder().decode(c)),
    );
    assert.equal(seen.join(""), "k0s binary");
    assert.equal(staged.size, 10);
    assert.equal(await store.stat(NAME), undefined);
    assert.deepEqual(await store.list(), []);
    await staged.commit(enc.encode("c2ln\n"));
    assert.equal((await store.stat(NAME))?.size, 10);
    assert.equal(await text(await store.open(NAME)), "k0s binary");
    assert.equal(await text(await store.open(NAME, { offset: 4, length: 3 })), "bin");
    assert.equal(await text(await store.open(`${NAME}.sig`)), "c2ln\n");
    assert.deepEqual(await store.list(), [{ name: NAME, size: 10, signature: true }]);
    await assert.rejects(staged.commit(), /already committed/);
  },
  "remove() takes the binary and its signature away; false when absent": async (store) => {
    await (await store.stage(NAME, chunks("k0s"))).commit(enc.encode("c2ln\n"));
    assert.equal(await store.remove(NAME), true);
    assert.equal(await store.stat(NAME), undefined);
    assert.equal(await store.readSignature(NAME), undefined);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.remove(NAME), false);
  },
  "discard() leaves nothing, not even the upload data": async (store) => {
    const staged = await store.stage(NAME, chunks("x"));
    await staged.discard();
    await staged.discard();
    assert.equal(await store.stat(NAME), undefined);
    assert.deepEqual(await store.list(), []);
  },
  "stage() cleans up when the body fails": async (store) => {
    const failing = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode("partial"));
        c.error(new Error("read error"));
      },
    });
    await assert.rejects(store.stage(NAME, failing), /read error/);
    assert.equal(await store.stat(NAME), undefined);
  },
  "commit() without a signature replaces the binary and drops the old one's .sig": async (
    store,
  ) => {
    await (await store.stage(NAME, chunks("old"))).commit(enc.encode("sig"));
    await (await store.stage(NAME, chunks("newer"))).commit();
    assert.equal(await text(await store.open(NAME)), "newer");
    assert.equal(await store.stat(`${NAME}.sig`), undefined);
    assert.deepEqual(await store.list(), [{ name: NAME, size: 5, signature: false }]);
  },
  "stage() refuses a name that is not k0s-<version>-<arch>; lookups refuse odd names": async (
    store,
  ) => {
    for (
      const bad of ["k0s", "k0s-v1.32.6-amd64", `../${NAME}`, `${NAME}.exe`, "k0s-v1+k0s.0-x86"]
    ) {
      await assert.rejects(store.stage(bad, chunks("x")), /Invalid k0s binary name/, bad);
      await assert.rejects(store.stat(bad), /Invalid k0s binary file name/, bad);
    }
  },
  "list() is sorted and ignores foreign files": async (store, driver) => {
    for (const name of ["k0s-v1.32.6+k0s.0-arm64", NAME, "k0s-v1.32.5+k0s.1-arm"]) {
      await (await store.stage(name, chunks(name))).commit();
    }
    await driver.writeFile(`${layout.k0sFiles()}/README`, enc.encode("not a binary"));
    assert.deepEqual((await store.list()).map((b) => b.name), [
      "k0s-v1.32.5+k0s.1-arm",
      NAME,
      "k0s-v1.32.6+k0s.0-arm64",
    ]);
  },
};

for (const d of STORAGE_DRIVERS) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`K0sBinaryStore (${d.name}): ${name}`, async () => {
      const { driver, cleanup } = await d.make();
      try {
        await fn(new K0sBinaryStore(driver), driver);
        await assertNoLeftovers(driver);
      } finally {
        await cleanup();
      }
    });
  }
}

Deno.test("K0sBinaryStore.sha256(): read once per file version, shared by concurrent callers, fresh after a change", async () => {
  const driver = new MemoryDriver();
  let reads = 0;
  const openRead = driver.openRead.bind(driver);
  driver.openRead = (...args: Parameters<typeof driver.openRead>) => {
    reads++;
    return openRead(...args);
  };
  const store = new K0sBinaryStore(driver);
  assert.equal(await store.sha256(NAME), undefined);
  await (await store.stage(NAME, chunks("one ", "binary"))).commit();
  const [a, b] = await Promise.all([store.sha256(NAME), store.sha256(NAME)]);
  assert.equal(a, hashBytes(enc.encode("one binary")));
  assert.equal(b, a);
  assert.equal(await store.sha256(NAME), a);
  assert.equal(reads, 1);
  await (await store.stage(NAME, chunks("two binary"))).commit();
  assert.equal(await store.sha256(NAME), hashBytes(enc.encode("two binary")));
  assert.equal(reads, 2);
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { unpackTar } from "modern-tar";
import { writeTarAtomic } from "./atomic_tar.ts";

Deno.test("writeTarAtomic() writes a gzipped tar with the requested mode", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.tar.gz");
  await writeTarAtomic(path, async (controller) => {
    const w = controller.add({ name: "x.txt", size: 2, mode: 0o644 }).getWriter();
    await w.write(new TextEncoder().encode("hi"));
    await w.close();
  }, { mode: 0o600, gzip: true });
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  const file = await Deno.open(path);
  const entries = await unpackTar(file.readable.pipeThrough(new DecompressionStream("gzip")));
  assert.deepEqual(
    entries.map((e) => [e.header.name, new TextDecoder().decode(e.data)]),
    [["x.txt", "hi"]],
  );
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.tar.gz"]);
});

Deno.test("writeTarAtomic() leaves nothing behind when filling fails", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "a.tar");
  await assert.rejects(
    () =>
      writeTarAtomic(path, async (controller) => {
        await controller.add({ name: "d/", type: "directory", size: 0 }).close();
        throw new Error("source broke");
      }, { mode: 0o644 }),
    /source broke/,
  );
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

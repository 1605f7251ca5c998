import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_write.ts";

Deno.test("writeFileAtomic() writes with the requested mode and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "sub", "values.yaml");
  await writeFileAtomic(path, "password: x\n", { mode: 0o600, mkdirMode: 0o700 });
  assert.equal(await Deno.readTextFile(path), "password: x\n");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["values.yaml"]);
});

Deno.test("writeFileAtomic() keeps the old file when the new content fails midway", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "f");
  await Deno.writeTextFile(path, "old");
  const failing = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("partial"));
      c.error(new Error("source broke"));
    },
  });
  await assert.rejects(() => writeFileAtomic(path, failing), /source broke/);
  assert.equal(await Deno.readTextFile(path), "old");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["f"]);
});

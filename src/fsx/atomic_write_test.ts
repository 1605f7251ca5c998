import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { replaceFileWith, writeFileAtomic } from "./atomic_write.ts";

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

Deno.test("replaceFileWith() renames what the producer wrote, creating parents", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "bin", "tool");
  let given = "";
  await replaceFileWith(path, async (temp) => {
    given = temp;
    await Deno.writeTextFile(temp, "#!/bin/sh\n", { mode: 0o755 });
  }, { mkdirMode: 0o755 });
  assert.equal(dirname(given), join(dir, "bin"), "the temp file is beside the target");
  assert.equal(await Deno.readTextFile(path), "#!/bin/sh\n");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o755);
  assert.deepEqual([...Deno.readDirSync(join(dir, "bin"))].map((e) => e.name), ["tool"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("replaceFileWith() keeps the old file and no temp when the producer fails", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "tool");
  await Deno.writeTextFile(path, "old");
  await assert.rejects(
    () =>
      replaceFileWith(path, async (temp) => {
        await Deno.writeTextFile(temp, "half");
        throw new Error("download broke");
      }),
    /download broke/,
  );
  assert.equal(await Deno.readTextFile(path), "old");
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["tool"]);
  await Deno.remove(dir, { recursive: true });
});

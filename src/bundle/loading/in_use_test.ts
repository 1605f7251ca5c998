// markInUse() / readInUse() on a temp storage: atomic replace, refusals, unreadable marks.
import assert from "node:assert/strict";
import { UserError } from "../../errors.ts";
import { markInUse, readInUse } from "./in_use.ts";
import { inUsePath } from "./load_state.ts";

Deno.test("markInUse() writes the version in use and replaces the previous mark", async () => {
  const storage = await Deno.makeTempDir();
  try {
    assert.equal(await readInUse(storage), undefined);
    await markInUse(storage, "1.0.0");
    await markInUse(storage, "1.1.0");
    const mark = await readInUse(storage);
    assert.equal(mark?.k0rdentVersion, "1.1.0");
    assert.ok(!Number.isNaN(Date.parse(mark!.markedAt)));
    const names = [];
    for await (const e of Deno.readDir(`${storage}/bundle`)) names.push(e.name);
    assert.deepEqual(names, ["in_use.json"], "no temp file left");
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

Deno.test("markInUse() refuses what is no version; readInUse() refuses a damaged mark", async () => {
  const storage = await Deno.makeTempDir();
  try {
    for (const bad of ["", "../x", "1.0.0\n", "k0rdent-1-0-0", "1.0", "1".repeat(200)]) {
      await assert.rejects(markInUse(storage, bad), UserError);
    }
    await Deno.mkdir(`${storage}/bundle`);
    for (const text of ["{not json", "{}", "null", "x".repeat(5000)]) {
      await Deno.writeTextFile(inUsePath(storage), text);
      await assert.rejects(readInUse(storage), /Cannot read the in-use mark/);
    }
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

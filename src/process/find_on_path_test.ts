import assert from "node:assert/strict";
import { join } from "node:path";
import { findOnPath } from "./find_on_path.ts";

Deno.test("findOnPath() takes the first executable file on PATH, skipping other entries", async () => {
  const base = await Deno.makeTempDir({ prefix: "find-on-path-" });
  try {
    const [a, b, c] = ["a", "b", "c"].map((d) => join(base, d));
    for (const d of [a, b, c]) await Deno.mkdir(d);
    await Deno.writeTextFile(join(a, "tool"), "not executable", { mode: 0o644 });
    await Deno.mkdir(join(b, "tool"));
    await Deno.writeTextFile(join(c, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(await findOnPath("tool", `${a}::${b}:${c}`), join(c, "tool"));
    assert.equal(await findOnPath("tool", `${a}:${b}`), null);
    assert.equal(await findOnPath("other", `${a}:${b}:${c}`), null);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

// Every worker the sources start must be in WORKER_MODULES, or the compiled binary lacks it
// (`deno compile` embeds worker entry points only when given with --include).
import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { WORKER_MODULES } from "../tasks/compile.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) yield* sources(path);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield path;
  }
}

Deno.test("WORKER_MODULES lists every worker entry point in src/, and they exist", async () => {
  const found: string[] = [];
  for await (const file of sources(join(ROOT, "src"))) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/new Worker\(\s*new URL\(\s*"([^"]+)",\s*import\.meta\.url/g)) {
      found.push(relative(ROOT, join(dirname(file), m[1])));
    }
  }
  assert.ok(found.length > 0, "the scan finds the bcrypt worker at least");
  assert.deepEqual(found.sort(), [...WORKER_MODULES].sort());
  for (const m of WORKER_MODULES) assert.ok((await Deno.stat(join(ROOT, m))).isFile, m);
});

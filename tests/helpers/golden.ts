/**
 * Golden-file assertions: compare generated text with a file in `testdata/`;
 * `UPDATE_GOLDEN=1` rewrites the files instead (review the diff before committing).
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** True when goldens are being rewritten. */
const UPDATING_GOLDEN = Deno.env.get("UPDATE_GOLDEN") === "1";

/**
 * Asserts that `actual` equals the golden file `name` in the `testdata/` folder beside
 * `testModuleUrl` (pass `import.meta.url`), or rewrites it under `UPDATE_GOLDEN=1`.
 */
export async function assertGolden(testModuleUrl: string, name: string, actual: string) {
  const path = fileURLToPath(new URL(`testdata/${name}`, testModuleUrl));
  if (UPDATING_GOLDEN) {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      assert.fail(`Golden file ${path} is missing: run with UPDATE_GOLDEN=1 to create it`);
    }
    throw err;
  }
  assert.equal(
    actual,
    expected,
    `${name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)`,
  );
}

import assert from "node:assert/strict";
import { mergePatchFor } from "./k0rdent_helm.ts";

Deno.test("mergePatchFor() removes dropped keys with null, keeps lists whole", () => {
  const current = { a: 1, b: { c: 2, d: 3 }, list: [1, 2], gone: { x: 1 } };
  const desired = { a: 1, b: { c: 5 }, list: [3], added: "y" };
  assert.deepStrictEqual(mergePatchFor(current, desired), {
    gone: null,
    a: 1,
    b: { d: null, c: 5 },
    list: [3],
    added: "y",
  });
  assert.deepStrictEqual(mergePatchFor(undefined, desired), desired);
  assert.deepStrictEqual(mergePatchFor({ a: { b: 1 } }, { a: "flat" }), { a: "flat" });
});

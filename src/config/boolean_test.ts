import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { booleanFlag, parseBoolean } from "./boolean.ts";

Deno.test("parseBoolean() reads the accepted words and nothing else", () => {
  for (const w of ["1", "true", "YES", "y", "on"]) assert.equal(parseBoolean(w), true, w);
  for (const w of ["0", "false", "No", "n", "off"]) assert.equal(parseBoolean(w), false, w);
  for (const w of ["", "maybe", "ture", "2"]) assert.equal(parseBoolean(w), undefined, w);
});

Deno.test("booleanFlag() makes a bare flag true and a typo a usage error", () => {
  const verify = booleanFlag("--verify");
  assert.equal(verify(undefined), true);
  assert.equal(verify("false"), false);
  assert.throws(
    () => verify("flase"),
    (e: unknown) => e instanceof UsageError && /--verify "flase"/.test(e.message),
  );
});

// parseRange() and parseContentRange(): the header forms clients send, and the refusals.
import assert from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { parseContentRange, parseRange } from "./range.ts";

Deno.test("parseRange() reads single byte ranges against the blob size", () => {
  assert.equal(parseRange(undefined, 10), undefined);
  assert.deepEqual(parseRange("bytes=0-0", 10), { offset: 0, length: 1 });
  assert.deepEqual(parseRange("bytes=2-", 10), { offset: 2, length: 8 });
  assert.deepEqual(parseRange("bytes=5-100", 10), { offset: 5, length: 5 });
  assert.deepEqual(parseRange("bytes=-4", 10), { offset: 6, length: 4 });
  assert.deepEqual(parseRange("bytes=-40", 10), { offset: 0, length: 10 });
  assert.equal(parseRange("bytes=0-1,4-5", 10), undefined, "multi-range is ignored");
  assert.equal(parseRange("items=0-1", 10), undefined);
});

Deno.test("parseRange() refuses unsatisfiable ranges with RANGE_INVALID", () => {
  for (const h of ["bytes=10-", "bytes=-0", "bytes=20-30"]) {
    assert.throws(() => parseRange(h, 10), (e) => e instanceof RegistryError && e.status === 416);
  }
});

Deno.test("parseContentRange() accepts <start>-<end> and refuses garbage", () => {
  assert.deepEqual(parseContentRange("0-1023"), { offset: 0, length: 1024 });
  assert.deepEqual(parseContentRange("bytes 10-19/*"), { offset: 10, length: 10 });
  assert.equal(parseContentRange(undefined), undefined);
  for (const h of ["abc", "5-4", "-1-2"]) {
    assert.throws(
      () => parseContentRange(h),
      (e) => e instanceof RegistryError && e.status === 416,
    );
  }
});

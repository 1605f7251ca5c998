import assert from "node:assert/strict";
import { join } from "node:path";
import { hashBytes, hashFile, hashStream, hashText, IncrementalHash } from "./sha.ts";

// FIPS 180-2 appendix B.1 / C.1 test vectors for "abc".
const ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_SHA512 = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

Deno.test("hashText() and hashBytes() give the FIPS 180-2 vectors for sha256 and sha512", () => {
  assert.equal(hashText("abc"), ABC_SHA256);
  assert.equal(hashBytes(new TextEncoder().encode("abc")), ABC_SHA256);
  assert.equal(hashText("abc", "sha512"), ABC_SHA512);
  assert.equal(hashBytes(new TextEncoder().encode("abc"), "sha512"), ABC_SHA512);
});

Deno.test("hashText() hashes the UTF-8 encoding", () => {
  assert.equal(hashText("é"), hashBytes(new Uint8Array([0xc3, 0xa9])));
  assert.notEqual(hashText("é"), hashBytes(new Uint8Array([0xe9])));
});

Deno.test("IncrementalHash over chunks equals the hash of the whole", () => {
  const h = new IncrementalHash();
  for (const part of ["a", "b", "c"]) h.update(new TextEncoder().encode(part));
  assert.equal(h.hex(), ABC_SHA256);
});

Deno.test("hashStream() and hashFile() read everything, in chunks", async () => {
  const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
  const chunks = [bytes.subarray(0, 7), bytes.subarray(7, 70_000), bytes.subarray(70_000)];
  const stream = ReadableStream.from(chunks);
  assert.equal(await hashStream(stream), hashBytes(bytes));
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "f");
    await Deno.writeFile(path, bytes);
    assert.equal(await hashFile(path), hashBytes(bytes));
    assert.equal(await hashFile(path, "sha512"), hashBytes(bytes, "sha512"));
    await assert.rejects(hashFile(join(dir, "absent")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// hotRead(): which requests it answers (the hot manifest and blob reads) and which it leaves to
// the Hono router; the full API suite in tests/registry_api_test.ts runs through it as well.
import assert from "node:assert/strict";
import { RegistryError } from "../errors.ts";
import { openMemoryStorage } from "../storage/storage.ts";
import { hotRead } from "./hot_reads.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;
const UUID = "0123abcd-0123-4567-89ab-0123456789ab";

/** Answers with the OCI code of the failure (body and header), so the test sees which handler ran. */
const onError = (err: unknown) => {
  const code = err instanceof RegistryError ? err.code : String(err);
  return new Response(code, { status: 599, headers: { "x-code": code } });
};

Deno.test("hotRead() answers manifest and blob reads, leaves other requests to the router", async () => {
  const storage = openMemoryStorage();
  const table: [string, string, boolean][] = [
    ["GET", "/v2/a/manifests/v1", true],
    ["HEAD", "/v2/a/manifests/v1", true],
    ["GET", "/v2/a/b/c/manifests/v1?ns=docker.io", true],
    ["GET", `/v2/a/blobs/${DIGEST}`, true],
    ["HEAD", `/v2/a/blobs/${DIGEST}#x`, true],
    ["GET", "/v2/a/blobs/manifests/v1", true],
    ["GET", `/v2/a/blobs/uploads/${UUID}`, false],
    ["GET", "/v2/a/blobs/not-a-digest", false],
    ["GET", `/v2/a%2Fb/manifests/v1`, false],
    ["GET", "/v2/manifests/v1", false],
    ["GET", "/v2/a/manifests/", false],
    ["GET", "/v2/a/tags/list", false],
    ["GET", `/v2/a/referrers/${DIGEST}`, false],
    ["GET", "/v2/", false],
    ["PUT", "/v2/a/manifests/v1", false],
    ["DELETE", `/v2/a/blobs/${DIGEST}`, false],
  ];
  for (const [method, path, handled] of table) {
    const res = hotRead(new Request(`http://localhost${path}`, { method }), storage, onError);
    assert.equal(res !== undefined, handled, `${method} ${path}`);
    if (!res) continue;
    const answer = await res;
    const expected = path.includes("/manifests/") ? "MANIFEST_UNKNOWN" : "BLOB_UNKNOWN";
    assert.equal(answer.headers.get("x-code"), expected, `${method} ${path}`);
    // A HEAD's failure keeps status and headers but has no body (HTTP/2 clients refuse one).
    if (method === "HEAD") assert.equal(answer.body, null, `${method} ${path} has a body`);
    else assert.equal(await answer.text(), expected, `${method} ${path}`);
  }
});

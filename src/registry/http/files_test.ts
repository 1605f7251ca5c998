// The files listener's handler in-process over a memory store: which paths name a file, GET,
// HEAD, Range, 404 and 405.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { K0sBinaryStore } from "../storage/k0s_binaries.ts";
import { MemoryDriver } from "../storage/memory_driver.ts";
import { createFilesHandler, requestedFile } from "./files.ts";

const NAME = "k0s-v1.32.6+k0s.0-amd64";
const P = "k0rdent-enterprise";
const DATA = new TextEncoder().encode("0123456789abcdefghij");

async function handler(prefix = P) {
  const store = new K0sBinaryStore(new MemoryDriver());
  const body = new Blob([DATA]).stream();
  await (await store.stage(NAME, body)).commit(new TextEncoder().encode("c2ln"));
  return createFilesHandler({ store, prefix });
}

function get(path: string, init: RequestInit = {}): Request {
  return new Request(`http://files.test${path}`, init);
}

Deno.test("requestedFile() accepts /<prefix>/<name> only", () => {
  const table: [string, string, string | undefined][] = [
    [`/${P}/${NAME}`, P, NAME],
    [`/${P}/${NAME}.sig`, P, `${NAME}.sig`],
    [`/${P}/k0s-v1.32.6%2Bk0s.0-amd64`, P, NAME],
    [`/${NAME}`, "", NAME],
    [`/a/b/${NAME}`, "/a/b/", NAME],
    [`/${NAME}`, P, undefined],
    [`//${P}/${NAME}`, P, undefined],
    [`/${P}/x/${NAME}`, P, undefined],
    [`/${P}/`, P, undefined],
    [`/${P}/k0s-v1.32.6+k0s.0-amd64%2F..%2Fx`, P, undefined],
    [`/${P}/..%2F..%2Fetc%2Fpasswd`, P, undefined],
    [`/${P}/%E0%A4%A`, P, undefined],
    [`/${P}/k0s-v1.32.6+k0s.0-amd64.tar`, P, undefined],
  ];
  for (const [path, prefix, want] of table) {
    assert.equal(requestedFile(path, prefix), want, `${path} with prefix "${prefix}"`);
  }
});

Deno.test("files handler: GET and HEAD serve the whole file as octet-stream", async () => {
  const h = await handler();
  const res = await h(get(`/${P}/${NAME}`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Type"), "application/octet-stream");
  assert.equal(res.headers.get("Content-Length"), String(DATA.length));
  assert.equal(res.headers.get("Accept-Ranges"), "bytes");
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), DATA);
  const head = await h(get(`/${P}/${NAME}`, { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("Content-Length"), String(DATA.length));
  assert.equal(head.body, null);
  const sig = await h(get(`/${P}/${NAME}.sig`));
  assert.equal(await sig.text(), "c2ln");
});

Deno.test("files handler: a single Range is 206; an unsatisfiable one 416", async () => {
  const h = await handler();
  let res = await h(get(`/${P}/${NAME}`, { headers: { Range: "bytes=5-9" } }));
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("Content-Range"), `bytes 5-9/${DATA.length}`);
  assert.equal(res.headers.get("Content-Length"), "5");
  assert.equal(await res.text(), "56789");
  res = await h(get(`/${P}/${NAME}`, { headers: { Range: "bytes=-3" } }));
  assert.equal(await res.text(), "hij");
  res = await h(get(`/${P}/${NAME}`, { headers: { Range: "bytes=15-" } }));
  assert.equal(await res.text(), "fghij");
  res = await h(get(`/${P}/${NAME}`, { headers: { Range: "bytes=99-" } }));
  assert.equal(res.status, 416);
  assert.equal(res.headers.get("Content-Range"), `bytes */${DATA.length}`);
  await res.body?.cancel();
});

Deno.test("files handler: unknown files and paths are 404, other methods 405", async () => {
  const h = await handler();
  for (const path of [`/${P}/k0s-v1.32.6+k0s.0-arm64`, "/", `/v2/`, `/${P}/../${NAME}`]) {
    const res = await h(get(path));
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
    // A HEAD's answer has no body, a failure's neither (HTTP/2 clients refuse one).
    const head = await h(get(path, { method: "HEAD" }));
    assert.equal(head.status, 404, `HEAD ${path}`);
    assert.equal(head.body, null, `HEAD ${path} has a body`);
  }
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const res = await h(get(`/${P}/${NAME}`, { method, body: method === "DELETE" ? null : "x" }));
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.get("Allow"), "GET, HEAD");
    await res.body?.cancel();
  }
});

Deno.test("files handler: an empty prefix serves at /<name>", async () => {
  const h = await handler("");
  const res = await h(get(`/${NAME}`));
  assert.equal(res.status, 200);
  await res.body?.cancel();
});

Deno.test("files handler: /<prefix>/SHA256SUMS lists every binary and .sig in sha256sum format, fresh after a change", async () => {
  const store = new K0sBinaryStore(new MemoryDriver());
  const h = createFilesHandler({ store, prefix: P });
  assert.equal(await (await h(get(`/${P}/SHA256SUMS`))).text(), "");
  await (await store.stage(NAME, new Blob([DATA]).stream())).commit(
    new TextEncoder().encode("c2ln"),
  );
  const res = await h(get(`/${P}/SHA256SUMS`));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("Content-Type"), "text/plain; charset=utf-8");
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  const want = `${sha(DATA)}  ${NAME}\n${sha(new TextEncoder().encode("c2ln"))}  ${NAME}.sig\n`;
  assert.equal(await res.text(), want);
  const head = await h(get(`/${P}/SHA256SUMS`, { method: "HEAD" }));
  assert.equal(head.body, null);
  assert.equal(head.headers.get("Content-Length"), String(want.length));
  // Replaced under the same name (no signature): the listing follows.
  const other = new TextEncoder().encode("another k0s build");
  await (await store.stage(NAME, new Blob([other]).stream())).commit();
  assert.equal(await (await h(get(`/${P}/SHA256SUMS`))).text(), `${sha(other)}  ${NAME}\n`);
  assert.equal((await h(get(`/other/SHA256SUMS`))).status, 404);
});

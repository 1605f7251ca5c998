// syncK0sFiles() against a real HTTP server on 127.0.0.1 acting as a source's files listener:
// copies what is missing (binary and .sig), skips what is current, refuses bytes that do not
// match the listed SHA-256 (nothing stored, an older copy kept), reports bad listing lines, and
// throws when the listing cannot be read.
import assert from "node:assert/strict";
import { hashBytes } from "../../hash/sha.ts";
import { K0sBinaryStore } from "../storage/k0s_binaries.ts";
import { MemoryDriver } from "../storage/memory_driver.ts";
import { parseSha256Sums, syncK0sFiles } from "./files_pass.ts";

const NAME = "k0s-v1.32.8+k0s.0-amd64";
const enc = new TextEncoder();

/** A files listener serving `files`, with `sums` as its SHA256SUMS (default: the true sums). */
function source(files: Map<string, Uint8Array>, sums?: () => string) {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.push(path);
    if (path === "/p/SHA256SUMS") {
      return new Response(
        sums?.() ?? [...files].map(([n, b]) => `${hashBytes(b)}  ${n}\n`).join(""),
      );
    }
    const body = files.get(path.slice("/p/".length));
    return body
      ? new Response(body as Uint8Array<ArrayBuffer>)
      : new Response("not found", { status: 404 });
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}/p`,
    requests,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const signal = new AbortController().signal;

Deno.test("syncK0sFiles() copies a missing binary and its .sig, then skips them while current", async () => {
  const files = new Map([[NAME, enc.encode("binary v1")], [`${NAME}.sig`, enc.encode("sig v1")]]);
  await using src = source(files);
  const store = new K0sBinaryStore(new MemoryDriver());
  const first = await syncK0sFiles(src.base, store, { signal });
  assert.deepEqual(first, { files: 1, copied: [NAME], errors: [] });
  assert.equal(await store.sha256(NAME), hashBytes(files.get(NAME)!));
  assert.deepEqual(await store.readSignature(NAME), files.get(`${NAME}.sig`));
  src.requests.length = 0;
  const again = await syncK0sFiles(src.base, store, { signal });
  assert.deepEqual(again, { files: 1, copied: [], errors: [] });
  assert.deepEqual(src.requests, ["/p/SHA256SUMS"], "nothing fetched but the listing");
  // The source replaced it: the new one is copied.
  files.set(NAME, enc.encode("binary v2"));
  assert.deepEqual((await syncK0sFiles(src.base, store, { signal })).copied, [NAME]);
  assert.equal(await store.sha256(NAME), hashBytes(enc.encode("binary v2")));
});

Deno.test("syncK0sFiles() refuses bytes that do not match the listed SHA-256 and keeps what it had", async () => {
  const files = new Map([[NAME, enc.encode("good")]]);
  let lie = false;
  await using src = source(
    files,
    () => `${hashBytes(enc.encode(lie ? "what the listing claims" : "good"))}  ${NAME}\n`,
  );
  const store = new K0sBinaryStore(new MemoryDriver());
  await syncK0sFiles(src.base, store, { signal });
  lie = true;
  const result = await syncK0sFiles(src.base, store, { signal });
  assert.deepEqual(result.copied, []);
  assert.equal(result.errors.length, 1);
  assert.match(
    result.errors[0],
    /k0s binary "k0s-v1\.32\.8\+k0s\.0-amd64": the source sent SHA-256 [0-9a-f]{64}, not [0-9a-f]{64} as listed \(refused\)/,
  );
  assert.equal(await store.sha256(NAME), hashBytes(enc.encode("good")), "the old copy stays");
  assert.deepEqual(await store.driver.list("uploads"), [], "the refused copy was removed");
});

Deno.test("syncK0sFiles(): bad listing lines are errors; an unreadable listing throws", async () => {
  const files = new Map<string, Uint8Array>();
  await using src = source(files, () => `zz  ${NAME}\n${"0".repeat(64)}  ../../etc/passwd\n`);
  const store = new K0sBinaryStore(new MemoryDriver());
  const result = await syncK0sFiles(src.base, store, { signal });
  assert.equal(result.files, 0);
  assert.equal(result.errors.length, 2);
  assert.match(
    result.errors[1],
    /SHA256SUMS line "0{64} {2}\.\.\/\.\.\/etc\/passwd": not "<sha256> {2}<k0s file>"/,
  );
  await assert.rejects(
    () => syncK0sFiles(`${src.base}/missing`, store, { signal }),
    /GET http:\/\/127\.0\.0\.1:\d+\/p\/missing\/SHA256SUMS: HTTP 404/,
  );
});

Deno.test("parseSha256Sums() reads sha256sum's text and binary markers", () => {
  const hex = "a".repeat(64);
  const { sums, errors } = parseSha256Sums(`${hex}  ${NAME}\n${hex} *${NAME}.sig\n`);
  assert.deepEqual([...sums], [[NAME, hex], [`${NAME}.sig`, hex]]);
  assert.deepEqual(errors, []);
});

Deno.test("syncK0sFiles(): a binary that stops arriving fails after the stall timeout, nothing stored", async () => {
  const body = enc.encode("the first part of a binary");
  let release = () => {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/p/SHA256SUMS") {
      return new Response(`${hashBytes(enc.encode("whole binary"))}  ${NAME}\n`);
    }
    // Sends a part, then nothing until the test ends.
    return new Response(
      new ReadableStream({
        async start(c) {
          c.enqueue(body);
          await new Promise<void>((r) => release = r);
          c.close();
        },
      }),
    );
  });
  try {
    const store = new K0sBinaryStore(new MemoryDriver());
    const base = `http://127.0.0.1:${server.addr.port}/p`;
    const result = await syncK0sFiles(base, store, { signal, stallTimeoutMs: 200 });
    assert.deepEqual(result.copied, []);
    assert.match(
      result.errors[0],
      /k0s binary "k0s-v1\.32\.8\+k0s\.0-amd64": .*no data for 200 ms/,
    );
    assert.equal(await store.stat(NAME), undefined);
    assert.deepEqual(await store.driver.list("uploads"), []);
  } finally {
    release();
    await server.shutdown();
  }
});

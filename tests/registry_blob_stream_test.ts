// Blob GET through a real daemon: the disk driver streams a response body through a few reused
// buffers (RESPONSE_RING in src/registry/storage/disk_driver.ts), which is only correct while the
// runtime's HTTP layer lets go of each chunk before its buffer comes round again. Slow readers keep
// every buffer below the stream full, so a runtime that held more would send overwritten bytes
// and the digests here would not match.
import assert from "node:assert/strict";
import { join } from "node:path";
import { digestOf, Hasher } from "../src/registry/digest.ts";
import { randomBytes, startDaemon } from "./registry_helpers.ts";

const MIB = 1 << 20;
const BLOB = randomBytes(12 * MIB + 12_345);
const DIGEST = digestOf(BLOB);

async function push(base: string, client?: Deno.HttpClient): Promise<void> {
  const res = await fetch(`${base}/v2/stream/test/blobs/uploads/?digest=${DIGEST}`, {
    client,
    method: "POST",
    body: BLOB as Uint8Array<ArrayBuffer>,
  });
  await res.body?.cancel();
  assert.equal(res.status, 201);
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 1));

/** GETs the blob over a raw socket, reading 8 KiB at a time with a pause after each read. */
async function slowGet(port: number): Promise<{ head: string; digest: string; length: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET /v2/stream/test/blobs/${DIGEST} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(8192);
    let head = "";
    let raw = new Uint8Array(0);
    const hasher = new Hasher();
    let length = 0;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (head === "") {
        raw = new Uint8Array([...raw, ...buf.subarray(0, n)]);
        const end = new TextDecoder().decode(raw).indexOf("\r\n\r\n");
        if (end >= 0) {
          head = new TextDecoder().decode(raw.subarray(0, end));
          const body = raw.subarray(end + 4);
          hasher.update(body);
          length += body.length;
        }
      } else {
        hasher.update(buf.subarray(0, n));
        length += n;
      }
      await pause();
    }
    return { head, digest: hasher.digest(), length };
  } finally {
    conn.close();
  }
}

Deno.test("blob GET: a slow reader alone and slow readers at once, a range across reused buffers and more downloads than streams through JS get the exact bytes", async () => {
  const storage = await Deno.makeTempDir();
  const daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage]);
  const base = `http://127.0.0.1:${daemon.port}`;
  try {
    await push(base);
    // One download alone (its reads are synchronous) and three at once (thread-pool reads).
    const slow = [await slowGet(daemon.port)];
    slow.push(...await Promise.all([1, 2, 3].map(() => slowGet(daemon.port))));
    for (const [i, got] of slow.entries()) {
      assert.match(got.head, /^HTTP\/1\.1 200 /);
      assert.equal(got.length, BLOB.length);
      assert.equal(got.digest, DIGEST, `slow download ${i} (0: alone)`);
    }
    // A range that starts inside a read and spans more reads than there are buffers.
    const from = MIB + 500_000;
    const to = 9 * MIB + 77;
    const res = await fetch(`${base}/v2/stream/test/blobs/${DIGEST}`, {
      headers: { Range: `bytes=${from}-${to}` },
    });
    assert.equal(res.status, 206);
    assert.equal(res.headers.get("Content-Range"), `bytes ${from}-${to}/${BLOB.length}`);
    assert.equal(
      digestOf(new Uint8Array(await res.arrayBuffer())),
      digestOf(BLOB.subarray(from, to + 1)),
    );
    // Ten at once: eight stream through JS, the rest through the runtime's pump.
    const all = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const r = await fetch(`${base}/v2/stream/test/blobs/${DIGEST}`);
        assert.equal(r.status, 200);
        return digestOf(new Uint8Array(await r.arrayBuffer()));
      }),
    );
    assert.deepEqual(all, Array(10).fill(DIGEST));
  } finally {
    assert.equal(await daemon.stop(), 0, daemon.stderr());
    await Deno.remove(storage, { recursive: true });
  }
});

Deno.test("blob GET over TLS: slow readers get the exact bytes", async () => {
  const storage = await Deno.makeTempDir();
  const daemon = await startDaemon(["--host", "127.0.0.1", "--storage", storage, "--tls", "auto"]);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(join(storage, "tls", "ca.crt"))],
  });
  const base = `https://127.0.0.1:${daemon.port}`;
  try {
    await push(base, client);
    const digests = await Promise.all([1, 2].map(async () => {
      const res = await fetch(`${base}/v2/stream/test/blobs/${DIGEST}`, { client });
      assert.equal(res.status, 200);
      const hasher = new Hasher();
      let length = 0;
      for await (const chunk of res.body!) {
        hasher.update(chunk);
        length += chunk.length;
        await pause();
      }
      assert.equal(length, BLOB.length);
      return hasher.digest();
    }));
    assert.deepEqual(digests, [DIGEST, DIGEST]);
  } finally {
    client.close();
    assert.equal(await daemon.stop(), 0, daemon.stderr());
    await Deno.remove(storage, { recursive: true });
  }
});

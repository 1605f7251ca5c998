import assert from "node:assert/strict";
import { join } from "node:path";
import { downloadK0s, findChecksum, k0sReleaseChecksum, k0sReleaseUrl } from "./download.ts";

const V = "v1.32.8+k0s.0";
const BINARY = new TextEncoder().encode("#!/bin/sh\necho fake k0s\n".repeat(1000));

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("findChecksum() matches the file name, with or without a leading * or path", () => {
  const sums = `${"a".repeat(64)}  k0s-${V}-arm64\n${"b".repeat(64)} *./k0s-${V}-amd64\n`;
  assert.equal(findChecksum(sums, `k0s-${V}-amd64`), "b".repeat(64));
  assert.equal(findChecksum(sums, `k0s-${V}-arm`), null);
});

Deno.test("k0sReleaseUrl() escapes the + of k0s versions", () => {
  assert.equal(
    k0sReleaseUrl("https://example.com/dl/", V, `k0s-${V}-amd64`),
    "https://example.com/dl/v1.32.8%2Bk0s.0/k0s-v1.32.8%2Bk0s.0-amd64",
  );
});

Deno.test("downloadK0s() writes a verified binary; a bad checksum or a 404 leaves nothing", async () => {
  let sum = await sha256(BINARY);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === `/${V}/sha256sums.txt`) return new Response(`${sum}  k0s-${V}-amd64\n`);
    if (path === `/${V}/k0s-${V}-amd64`) return new Response(BINARY as BodyInit);
    return new Response("nope", { status: 404 });
  });
  const dir = await Deno.makeTempDir();
  const base = `http://127.0.0.1:${server.addr.port}`;
  const target = join(dir, "bin", "k0s");
  const options = {
    baseUrl: base,
    version: V,
    arch: "amd64",
    target,
    output: "text" as const,
    signal: new AbortController().signal,
  };
  try {
    await downloadK0s(options);
    assert.deepStrictEqual(await Deno.readFile(target), BINARY);
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o755);
    await Deno.remove(target);

    sum = "0".repeat(64);
    await assert.rejects(
      downloadK0s(options),
      /SHA-256 mismatch: got [0-9a-f]{64}, expected 0{64}/,
    );
    assert.deepStrictEqual([...Deno.readDirSync(join(dir, "bin"))], []);

    await assert.rejects(
      downloadK0s({ ...options, arch: "arm64" }),
      /lists no "k0s-v1.32.8\+k0s.0-arm64"/,
    );
    await assert.rejects(downloadK0s({ ...options, version: "v9.9.9+k0s.0" }), /HTTP 404/);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("k0sReleaseChecksum() refuses a sha256sums.txt over 1 MiB before buffering it", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      // 4 MiB of lines naming other files (and then, too late, the one asked for).
      `${"0".repeat(64)}  other\n`.repeat(4 * 1024 * 1024 / 72) +
        `${"1".repeat(64)}  k0s-${V}-amd64\n`,
    ));
  try {
    await assert.rejects(
      k0sReleaseChecksum(
        `http://127.0.0.1:${server.addr.port}`,
        V,
        "amd64",
        new AbortController().signal,
      ),
      /sha256sums\.txt" has more than 1048576 bytes/,
    );
  } finally {
    await server.shutdown();
  }
});

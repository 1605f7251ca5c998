// Tests of reading the id of a k0s join token.
import assert from "node:assert/strict";
import { joinTokenId } from "./token.ts";

/** A token shaped like k0s's: base64 of a gzipped kubeconfig holding `bootstrap`. */
async function k0sToken(bootstrap: string): Promise<string> {
  const kubeconfig = `apiVersion: v1
clusters:
- cluster:
    server: https://10.0.0.5:6443
  name: k0s
kind: Config
users:
- name: kubelet-bootstrap
  user:
    token: ${bootstrap}
`;
  const gzip = new Blob([kubeconfig]).stream().pipeThrough(new CompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(gzip).arrayBuffer());
  return btoa(String.fromCharCode(...bytes));
}

Deno.test("joinTokenId() reads the bootstrap token id from a k0s join token", async () => {
  assert.equal(await joinTokenId(await k0sToken("abc123.0123456789abcdef")), "abc123");
});

Deno.test("joinTokenId() rejects other strings without quoting them", async () => {
  for (
    const token of [
      "fake-token-worker-2h",
      "H4sIAAAAAAAC/c2VjcmV0c2VjcmV0",
      await k0sToken("no-dot-secret-here"),
      await k0sToken("ABC123.0123456789abcdef"),
    ]
  ) {
    await assert.rejects(joinTokenId(token), (err: Error) => {
      assert.ok(!err.message.includes(token.slice(0, 12)), err.message);
      assert.doesNotMatch(err.message, /0123456789abcdef|no-dot|ABC123/);
      return /join token/.test(err.message);
    });
  }
});

Deno.test("joinTokenId() refuses a token whose gzip inflates past 1 MiB, without inflating it all", async () => {
  // 64 MiB of a repeated line gzip to about 64 KiB: a bomb for a reader without a limit.
  const line = "x".repeat(1023) + "\n";
  const body = new Blob(Array.from({ length: 64 * 1024 }, () => line)).stream();
  const gzip = new Uint8Array(
    await new Response(body.pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
  let text = "";
  for (let i = 0; i < gzip.length; i += 8192) {
    text += String.fromCharCode(...gzip.subarray(i, i + 8192));
  }
  await assert.rejects(joinTokenId(btoa(text)), /not a k0s join token/);
});

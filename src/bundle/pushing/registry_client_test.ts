import assert from "node:assert/strict";
import { parseTarget } from "./push.ts";
import { parseChallenge, RegistryClient } from "./registry_client.ts";

Deno.test("parseChallenge() reads realm, service and scope of a Bearer challenge", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="reg",scope="repository:a:pull"',
    ),
    { realm: "https://auth.example/token", service: "reg", scope: "repository:a:pull" },
  );
  assert.equal(parseChallenge('Basic realm="x"'), undefined);
});

Deno.test("parseTarget() splits HOST[:PORT][/PREFIX]", () => {
  assert.deepEqual(parseTarget("reg.example:5000/a/b"), {
    host: "reg.example:5000",
    prefix: "a/b",
  });
  assert.deepEqual(parseTarget("https://reg.example/"), { host: "reg.example" });
  assert.throws(() => parseTarget("/x"), /Invalid --to/);
});

Deno.test("RegistryClient follows the distribution token flow with basic credentials", async () => {
  const tokenRequests: string[] = [];
  const ac = new AbortController();
  let port = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: (a) => port = a.port,
  }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/token") {
      tokenRequests.push(`${req.headers.get("authorization")} ${url.search}`);
      if (req.headers.get("authorization") !== `Basic ${btoa("u:p")}`) {
        return new Response("denied", { status: 401 });
      }
      return Response.json({ token: "T0K" });
    }
    if (req.headers.get("authorization") !== "Bearer T0K") {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate":
            `Bearer realm="http://127.0.0.1:${port}/token",service="fake",scope="repository:r:pull"`,
        },
      });
    }
    return new Response(null, {
      status: url.pathname.endsWith("sha256:" + "a".repeat(64)) ? 200 : 404,
    });
  });
  try {
    const client = await RegistryClient.open({
      host: `127.0.0.1:${port}`,
      plainHttp: true,
      username: "u",
      password: "p",
    });
    assert.equal(await client.hasBlob("r", "sha256:" + "a".repeat(64)), true);
    assert.equal(await client.hasBlob("r", "sha256:" + "b".repeat(64)), false);
    assert.equal(tokenRequests.length, 1, "the token is cached per scope");
    assert.match(tokenRequests[0], /service=fake&scope=repository%3Ar%3Apull/);

    const wrong = await RegistryClient.open({
      host: `127.0.0.1:${port}`,
      plainHttp: true,
      username: "u",
      password: "bad",
    });
    await assert.rejects(
      wrong.hasBlob("r", "sha256:" + "a".repeat(64)),
      /token request failed: HTTP 401/,
    );
  } finally {
    ac.abort();
    await server.finished;
  }
});

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

Deno.test("RegistryClient asks the token server for each scope of a mount in its own parameter", async () => {
  // distribution v2.8.3: the challenge joins scopes with spaces (registry/auth/token/
  // accesscontroller.go `scopeParam`); the token request names each in its own `scope`
  // parameter (docs/spec/auth/token.md). This fake token server grants what each parameter names,
  // as a spec-following server does, so a space-joined one grants nothing usable.
  const digest = "sha256:" + "c".repeat(64);
  const ac = new AbortController();
  let port = 0;
  const grants = new Map<string, Set<string>>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: (a) => port = a.port,
  }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/token") {
      const granted = new Set<string>();
      for (const scope of url.searchParams.getAll("scope")) {
        const m = /^repository:([a-z0-9/._-]+):([a-z,]+)$/.exec(scope);
        if (!m) continue;
        for (const action of m[2].split(",")) granted.add(`${m[1]}:${action}`);
      }
      const token = `T${grants.size}`;
      grants.set(token, granted);
      return Response.json({ token });
    }
    const granted = grants.get((req.headers.get("authorization") ?? "").replace(/^Bearer /, ""));
    const ok = url.pathname === "/v2/dst/blobs/uploads/" && granted?.has("dst:push") &&
      granted?.has("src:pull");
    if (!ok) {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="fake",` +
            `scope="repository:dst:pull,push repository:src:pull"`,
        },
      });
    }
    return new Response(null, { status: 201, headers: { location: `/v2/dst/blobs/${digest}` } });
  });
  try {
    const client = await RegistryClient.open({ host: `127.0.0.1:${port}`, plainHttp: true });
    assert.equal(await client.mountBlob("dst", digest, "src"), true);
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("RegistryClient refuses an oversized or non-JSON token response in one line", async () => {
  const ac = new AbortController();
  let port = 0;
  let answer = "";
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: (a) => port = a.port,
  }, (req) => {
    if (new URL(req.url).pathname === "/token") return new Response(answer);
    return new Response(null, {
      status: 401,
      headers: { "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="f"` },
    });
  });
  try {
    const client = await RegistryClient.open({ host: `127.0.0.1:${port}`, plainHttp: true });
    const digest = "sha256:" + "d".repeat(64);
    // Valid JSON, but 2 MiB of it: refused before it is all buffered.
    answer = " ".repeat(2 * 1024 * 1024) + '{"token":"T"}';
    await assert.rejects(client.hasBlob("r", digest), /token response has more than 1048576 bytes/);
    answer = "<html>login</html>";
    await assert.rejects(client.hasBlob("r2", digest), /token response has no token/);
  } finally {
    ac.abort();
    await server.finished;
  }
});

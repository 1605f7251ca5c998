// Tests of the registry probes against the real registry app on a socket (memory storage).
import assert from "node:assert/strict";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { MEDIA_TYPES } from "../registry/manifest.ts";
import { createRegistryApp } from "../registry/http/app.ts";
import { MemoryDriver } from "../registry/storage/memory_driver.ts";
import { RegistryStorage } from "../registry/storage/storage.ts";
import { MANIFEST_ACCEPT, probeManifests, registryImageCount } from "./registry_probe.ts";
import { storeIndex, storeManifest } from "../../tests/helpers/store_image.ts";
import { serveRegistry } from "../../tests/helpers/registry_server.ts";
import { freePort } from "../../tests/helpers/free_port.ts";

const enc = new TextEncoder();

/** Tags one small image per tag into each repository of `images`. */
async function seed(storage: RegistryStorage, images: Record<string, string[]>): Promise<void> {
  for (const [repo, tags] of Object.entries(images)) {
    for (const tag of tags) {
      const config = await storage.putBlob(enc.encode(`{"image":"${repo}:${tag}"}`));
      await storage.linkBlob(repo, config.digest);
      const manifest = enc.encode(JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [],
      }));
      await storage.putManifest(repo, manifest, {
        reference: tag,
        contentType: MEDIA_TYPES.ociManifest,
      });
    }
  }
}

function configFor(address: string): Config {
  const config = defaultConfig();
  config.airgap.registry.address = address;
  config.airgap.registry.insecure = true;
  return config;
}

Deno.test("registryImageCount() counts tags across all catalog repositories, page by page", async () => {
  const storage = new RegistryStorage(new MemoryDriver());
  await seed(storage, {
    "k0rdent-enterprise/charts/k0rdent-enterprise": ["1.1.0", "1.2.0"],
    "k0rdent-enterprise/kcm-controller": ["1.2.0", "1.2.0-amd64", "latest"],
    "k0rdent-enterprise/pause": ["3.10"],
    "k0rdent-enterprise/empty-after-delete": ["x"],
  });
  await storage.deleteTag("k0rdent-enterprise/empty-after-delete", "x");
  const app = createRegistryApp({ storage });
  const requests: string[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    return app.fetch(req, {});
  });
  const config = configFor(`127.0.0.1:${server.addr.port}`);

  // Pages of 2 entries: the catalog (4 repositories) and the 3-tag list need a second page.
  assert.deepStrictEqual(await registryImageCount(config, { pageSize: 2 }), {
    repositories: 4,
    images: 6,
  });
  assert.ok(requests.includes("/v2/_catalog?n=2&last=k0rdent-enterprise%2Fempty-after-delete"));
  assert.ok(
    requests.includes("/v2/k0rdent-enterprise/kcm-controller/tags/list?n=2&last=1.2.0-amd64"),
  );
  assert.deepStrictEqual(await registryImageCount(config), { repositories: 4, images: 6 });
});

Deno.test("registryImageCount() gives up after timeoutMs on a registry that stalls", async () => {
  const stalled = Promise.withResolvers<void>();
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/v2/_catalog") {
      return Response.json({ repositories: ["a"] });
    }
    return stalled.promise.then(() => new Response("late"));
  });
  const started = Date.now();
  await assert.rejects(
    registryImageCount(configFor(`127.0.0.1:${server.addr.port}`), { timeoutMs: 200 }),
    /counting images took longer than 0.2 s/,
  );
  assert.ok(Date.now() - started < 5_000);
  stalled.resolve();
});

Deno.test("registryImageCount() reports a registry error with the path", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("denied", { status: 401 }),
  );
  await assert.rejects(
    registryImageCount(configFor(`127.0.0.1:${server.addr.port}`)),
    /HTTP 401 for \/v2\/_catalog/,
  );
});

Deno.test("probeManifests() HEADs manifests with the index and manifest Accept types: found or not", async () => {
  const storage = new RegistryStorage(new MemoryDriver());
  await storeManifest(storage, "p/k0sproject/coredns", "amd64", "1.12.2");
  await storeIndex(storage, "p/pause", "3.9"); // an image index: found only when Accept allows it
  await using registry = serveRegistry(storage);
  const config = configFor(registry.address);
  const url = (path: string) => `http://${registry.address}/v2/${path}`;
  const urls = [
    url("p/k0sproject/coredns/manifests/1.12.2"),
    url("p/pause/manifests/3.9"),
    url("p/k0sproject/coredns/manifests/1.12.0"),
    url("p/k0sproject/kube-proxy/manifests/v1.32.8"),
  ];
  assert.deepStrictEqual(await probeManifests(config, urls), [
    { found: true },
    { found: true },
    { found: false },
    { found: false },
  ]);
  assert.deepStrictEqual(
    registry.requests.map((r) => [r.method, r.accept]),
    urls.map(() => ["HEAD", MANIFEST_ACCEPT]),
  );
});

Deno.test("probeManifests() keeps at most `concurrency` requests in flight", async () => {
  const storage = new RegistryStorage(new MemoryDriver());
  await using registry = serveRegistry(storage, { delayMs: 40 });
  const urls = Array.from(
    { length: 20 },
    (_, i) => `http://${registry.address}/v2/a/manifests/v${i}`,
  );
  const probes = await probeManifests(configFor(registry.address), urls, { concurrency: 3 });
  assert.equal(probes.length, 20);
  assert.ok(probes.every((p) => "found" in p && !p.found));
  assert.equal(registry.requests.length, 20);
  assert.ok(registry.maxInFlight <= 3 && registry.maxInFlight > 1, `${registry.maxInFlight}`);
});

Deno.test("probeManifests() reports other answers and unreachable registries as errors", async () => {
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("denied", { status: 401 }),
  );
  const denied = `127.0.0.1:${server.addr.port}`;
  assert.deepStrictEqual(
    await probeManifests(configFor(denied), [`http://${denied}/v2/a/manifests/v1`]),
    [{ error: "HTTP 401" }],
  );
  const closed = `127.0.0.1:${freePort()}`;
  const [refused] = await probeManifests(configFor(closed), [`http://${closed}/v2/a/manifests/1`]);
  assert.ok("error" in refused && /refused/i.test(refused.error), JSON.stringify(refused));
});

// Tests of the registry probes against the real registry app on a socket (memory storage).
import assert from "node:assert/strict";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { MEDIA_TYPES } from "../registry/manifest.ts";
import { createRegistryApp } from "../registry/http/app.ts";
import { MemoryDriver } from "../registry/storage/memory_driver.ts";
import { RegistryStorage } from "../registry/storage/storage.ts";
import { registryImageCount } from "./registry_probe.ts";

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

// syncPass(): replication over a real socket from the registry app (and from fake, lying sources).
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { RegistryClient } from "../../bundle/pushing/registry_client.ts";
import { serveRegistry } from "../../../tests/helpers/registry_server.ts";
import { fakeSource } from "../../../tests/helpers/lying_registry.ts";
import { storeIndex, storeManifest } from "../../../tests/helpers/store_image.ts";
import { CredentialChecker, parseHtpasswd } from "../auth/htpasswd.ts";
import { digestOf } from "../digest.ts";
import { openMemoryStorage, type RegistryStorage } from "../storage/storage.ts";
import { syncPass } from "./sync_pass.ts";

const opts = () => ({ concurrency: 3, signal: new AbortController().signal });

async function client(address: string, creds: { username?: string; password?: string } = {}) {
  return await RegistryClient.open({ host: address, plainHttp: true, ...creds });
}

/** Every repository:tag → digest of a storage. */
async function tagsOf(storage: RegistryStorage): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const repo of await storage.listRepositories()) {
    for (const tag of (await storage.listTags(repo)) ?? []) {
      out.set(`${repo}:${tag}`, (await storage.resolveTag(repo, tag))!);
    }
  }
  return out;
}

async function blobsOf(storage: RegistryStorage): Promise<string[]> {
  const out = [];
  for await (const b of storage.listBlobs()) out.push(`${b.digest} ${b.size}`);
  return out.sort();
}

Deno.test("syncPass() copies every tag (index children first) and only missing blobs; a moved tag moves", async () => {
  const source = openMemoryStorage();
  await storeIndex(source, "k0rdent-enterprise/capi/multi", "v1");
  await storeManifest(source, "k0rdent-enterprise/capi/single", "amd64", "v2");
  await storeManifest(source, "other", "arm64", "latest");
  await using server = serveRegistry(source);
  const target = openMemoryStorage();
  const c = await client(server.address);
  try {
    const first = await syncPass(c, target, opts());
    assert.deepEqual(first.errors, []);
    assert.equal(first.tags, 3);
    assert.equal(first.tagsBehind, 0);
    assert.equal(first.bytesBehind, 0);
    assert.deepEqual(await tagsOf(target), await tagsOf(source));
    assert.deepEqual(await blobsOf(target), await blobsOf(source));
    for (const [ref, digest] of await tagsOf(source)) {
      const [repo, tag] = ref.split(":");
      const want = await source.getManifest(repo, tag);
      assert.deepEqual((await target.getManifest(repo, digest))?.bytes, want?.bytes, ref);
    }
    assert.deepEqual(await target.listUploads(), []);
    const blobGets = () => server.requests.filter((r) => r.path.includes("/blobs/")).length;
    const before = blobGets();
    assert.ok(before > 0);

    // Nothing changed: no blob and no manifest body is read again.
    const second = await syncPass(c, target, opts());
    assert.deepEqual(second.errors, []);
    assert.equal(second.bytesCopied, 0);
    assert.equal(blobGets(), before);

    // The tag moves at the source; a new image shares nothing: only its blobs are copied.
    const moved = await storeManifest(source, "other", "amd64", "latest");
    const third = await syncPass(c, target, opts());
    assert.deepEqual(third.errors, []);
    assert.equal(await target.resolveTag("other", "latest"), moved.digest);
    assert.equal(third.bytesCopied, moved.config.size + moved.layer.size);
    assert.equal(blobGets(), before + 2);
  } finally {
    c.close();
  }
});

Deno.test("syncPass() with basic auth: pulls need the source's htpasswd user", async () => {
  const source = openMemoryStorage();
  await storeManifest(source, "r", "amd64", "t");
  const credentials = new CredentialChecker(
    parseHtpasswd(`replica:${bcrypt.hashSync("s3cret", 4)}\n`),
  );
  await using server = serveRegistry(source, {
    access: { credentials, authPulls: true, readOnly: false },
  });
  const anonymous = await client(server.address);
  const wrong = await client(server.address, { username: "replica", password: "nope" });
  const right = await client(server.address, { username: "replica", password: "s3cret" });
  try {
    await assert.rejects(syncPass(anonymous, openMemoryStorage(), opts()), /authentication/);
    await assert.rejects(syncPass(wrong, openMemoryStorage(), opts()), /HTTP 401/);
    const target = openMemoryStorage();
    const result = await syncPass(right, target, opts());
    assert.deepEqual(result.errors, []);
    assert.deepEqual(await tagsOf(target), await tagsOf(source));
  } finally {
    credentials.close();
    for (const c of [anonymous, wrong, right]) c.close();
  }
});

Deno.test("syncPass() follows Link pages; sources lying about a digest get nothing stored or tagged", async () => {
  const fake = fakeSource();
  const target = openMemoryStorage();
  const c = await client(fake.address);
  try {
    const result = await syncPass(c, target, opts());
    assert.equal(result.tags, 8);
    assert.deepEqual([...(await tagsOf(target)).keys()].sort(), ["honest:a", "honest:b"]);
    assert.equal(result.tagsBehind, 6);
    assert.equal(result.errors.length, 6, result.errors.join("\n"));
    for (const tag of ["a", "b"]) {
      assert.ok(
        result.errors.some((e) =>
          e.startsWith(`Tag "liar:${tag}"`) && /DIGEST_INVALID|digest/.test(e)
        ),
        result.errors.join("\n"),
      );
      assert.ok(
        result.errors.some((e) =>
          e.startsWith(`Tag "forger:${tag}"`) && /the source sent a manifest with digest/.test(e)
        ),
        result.errors.join("\n"),
      );
      assert.ok(
        result.errors.some((e) =>
          e.startsWith(`Tag "padder:${tag}"`) && /the source sent more than 4096 bytes/.test(e)
        ),
        result.errors.join("\n"),
      );
    }
    // The forged layer never reached the content store; the forger's was never asked for.
    for (const img of [fake.liar, fake.forger, fake.padder]) {
      const layer = [...img.blobs.keys()][1];
      assert.equal(await target.hasBlob(layer), false);
    }
    assert.equal(await target.getManifest("liar", digestOf(fake.liar.manifest)), undefined);
    assert.equal(await target.getManifest("forger", digestOf(fake.forger.manifest)), undefined);
    assert.deepEqual(await target.listUploads(), []);
    assert.deepEqual(await target.driver.list("sync/partial"), []);
  } finally {
    c.close();
    await fake.server.shutdown();
  }
});

Deno.test("syncPass() holds a bounded amount of manifests: the rest waits for the next pass", async () => {
  const source = openMemoryStorage();
  for (const tag of ["a", "b", "c"]) await storeManifest(source, "r", "amd64", tag);
  await using server = serveRegistry(source);
  const target = openMemoryStorage();
  const c = await client(server.address);
  try {
    const small = { concurrency: 1, signal: new AbortController().signal, maxPlannedBytes: 1 };
    const first = await syncPass(c, target, small);
    assert.deepEqual(first.errors, []);
    assert.equal(first.deferred, 2);
    assert.equal(first.tagsBehind, 2);
    assert.equal((await target.listTags("r"))?.length, 1);
    await syncPass(c, target, small);
    const third = await syncPass(c, target, small);
    assert.equal(third.deferred, 0);
    assert.deepEqual(await tagsOf(target), await tagsOf(source));
  } finally {
    c.close();
  }
});

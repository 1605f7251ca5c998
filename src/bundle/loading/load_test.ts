// loadBundle() on every storage driver of the shared storage suite (disk in a temp dir, memory):
// a small generated bundle is loaded into a `RegistryStorage` the test opens, then read back
// through that storage; every case also fails when temp files or upload data are left behind.
import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import { ProcessRunner } from "../../process/runner.ts";
import { K0sBinaryStore } from "../../registry/storage/k0s_binaries.ts";
import { RegistryStorage } from "../../registry/storage/storage.ts";
import type { StorageDriver } from "../../registry/storage/driver.ts";
import { statBundle } from "../reading/source.ts";
import { makeBundle, randomBytes } from "../../../tests/fixtures/make_bundle.ts";
import { makeKeyPair, signBlob } from "../../../tests/helpers/cosign_keys.ts";
import { assertNoLeftovers, STORAGE_DRIVERS } from "../../../tests/helpers/storage_drivers.ts";
import { needsTools } from "../../../tests/helpers/tools.ts";
import { loadBundle, storeK0sBinariesBeside } from "./load.ts";
import { journalFile, readJournal, readLoadStatus } from "./load_state.ts";

const runner = new ProcessRunner();
const K0S = "k0s-v1.32.6+k0s.0-amd64";

/** Every `repository:tag` of the storage and the digest it points at. */
async function tagsOf(storage: RegistryStorage): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const repo of await storage.listRepositories()) {
    for (const tag of (await storage.listTags(repo)) ?? []) {
      out[`${repo}:${tag}`] = (await storage.resolveTag(repo, tag))!;
    }
  }
  return out;
}

/** Digest -> size of every stored blob. */
async function blobsOf(storage: RegistryStorage): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const b of storage.listBlobs()) out.set(b.digest, b.size);
  return out;
}

/** The refs of a generated bundle as loaded under prefix `p`. */
function prefixed(refs: Map<string, string>): Record<string, string> {
  return Object.fromEntries([...refs].map(([ref, digest]) => [`p/${ref}`, digest]));
}

interface Fixture {
  driver: StorageDriver;
  storage: RegistryStorage;
  /** A temp dir for the bundle, keys and signatures (the bundle is always a file). */
  dir: string;
}

type Case = (f: Fixture) => Promise<void>;

const CASES: Record<string, Case> = {
  "a bundle loads: every reference tagged, every blob stored, its k0s binary kept, journal and status complete":
    async ({ driver, storage, dir }) => {
      const bundle = join(dir, "airgap-bundle-1.2.3.tar.gz");
      const k0s = randomBytes(70_000, 7);
      const contents = await makeBundle(bundle, {
        images: 3,
        layerSize: 32 * 1024,
        files: [{ name: K0S, data: k0s }],
      });
      const result = await loadBundle({
        bundle,
        storage,
        prefix: "p",
        verify: "off",
        runner,
        progress: "silent",
        writeStatus: true,
      });
      assert.equal(result.alreadyLoaded, false);
      assert.equal(result.k0rdentVersion, "1.2.3");
      assert.deepEqual(await tagsOf(storage), prefixed(contents.refs));
      assert.deepEqual(await blobsOf(storage), contents.blobSizes);
      assert.equal(result.blobsStored, contents.blobSizes.size);
      assert.equal(result.bytesStored, contents.uniqueBlobBytes);
      assert.deepEqual(result.k0sBinaries, [{ name: K0S, size: k0s.length, signature: "none" }]);
      const stored = await new K0sBinaryStore(driver).open(K0S);
      assert.deepEqual(new Uint8Array(await new Response(stored).arrayBuffer()), k0s);
      const journal = await readJournal(driver, journalFile(await statBundle(bundle), "p"));
      assert.equal(journal?.state, "complete");
      assert.deepEqual(
        Object.fromEntries(journal!.refs!.map((r) => [`${r.repository}:${r.tag}`, r.digest])),
        prefixed(contents.refs),
      );
      const status = await readLoadStatus(driver);
      assert.equal(status?.state, "complete");
      assert.equal(status?.bytesRead, result.bytesRead);
      assert.equal(status?.imagesDone, contents.refs.size);
    },
  "a rerun of a complete bundle stores nothing; with a tag gone it tags again from the stored blobs":
    async ({ storage, dir }) => {
      const bundle = join(dir, "airgap-bundle-1.2.3.tar.gz");
      const contents = await makeBundle(bundle, { images: 2, layerSize: 16 * 1024 });
      const options = { bundle, storage, prefix: "p", verify: "off", runner } as const;
      await loadBundle(options);
      const again = await loadBundle(options);
      assert.equal(again.alreadyLoaded, true);
      assert.equal(again.blobsStored, 0);
      assert.equal(again.bytesRead, 0, "a complete rerun does not read the bundle");
      const [ref] = contents.refs.keys();
      const [repository, tag] = `p/${ref}`.split(/:(?=[^:]*$)/);
      assert.equal(await storage.deleteTag(repository, tag), true);
      const third = await loadBundle(options);
      assert.equal(third.alreadyLoaded, false);
      assert.equal(third.blobsStored, 0);
      assert.equal(third.blobsPresent > 0, true);
      assert.deepEqual(await tagsOf(storage), prefixed(contents.refs));
    },
  "k0s binaries beside the bundle are stored and recorded in its journal": async (
    { driver, storage, dir },
  ) => {
    const bundle = join(dir, "airgap-bundle-1.2.3.tar.gz");
    await makeBundle(bundle, { images: 1, layerSize: 8 * 1024 });
    const k0s = randomBytes(50_000, 9);
    await Deno.writeFile(join(dir, K0S), k0s);
    const options = { bundle, storage, prefix: "p", verify: "off", runner } as const;
    await loadBundle(options);
    const beside = await storeK0sBinariesBeside(options);
    assert.deepEqual(beside, [{ name: K0S, size: k0s.length, signature: "none" }]);
    assert.equal((await new K0sBinaryStore(driver).stat(K0S))?.size, k0s.length);
    const journal = await readJournal(driver, journalFile(await statBundle(bundle), "p"));
    assert.deepEqual(journal?.k0sBinariesBeside, beside);
  },
};

/** Needs openssl (the test keys and signatures); see `tests/helpers/cosign_keys.ts`. */
const SIGNED_CASES: Record<string, Case> = {
  "a native signature check passes for the signed bundle and stores nothing for another": async (
    { storage, dir },
  ) => {
    await makeKeyPair(dir);
    const good = join(dir, "good.tar.gz");
    const bad = join(dir, "bad.tar.gz");
    const contents = await makeBundle(good, { images: 1, layerSize: 8 * 1024, seed: 1 });
    await makeBundle(bad, { images: 1, layerSize: 8 * 1024, seed: 2 });
    await signBlob(dir, "good.tar.gz");
    const key = join(dir, "cosign.pub");
    const options = { storage, prefix: "p", verify: "native", key, runner } as const;
    await assert.rejects(
      loadBundle({ ...options, bundle: bad, signature: `${good}.sig` }),
      (err: unknown) =>
        err instanceof UserError && /^Signature check of bundle ".*bad\.tar\.gz" failed/
          .test(err.message),
    );
    assert.deepEqual(await tagsOf(storage), {});
    assert.deepEqual(await blobsOf(storage), new Map());
    const result = await loadBundle({ ...options, bundle: good });
    assert.equal(result.verified, "native");
    assert.deepEqual(await tagsOf(storage), prefixed(contents.refs));
  },
};

async function runCase(
  driverName: string,
  make: () => Promise<{
    driver: StorageDriver;
    cleanup(): Promise<void>;
  }>,
  fn: Case,
): Promise<void> {
  const { driver, cleanup } = await make();
  const dir = await Deno.makeTempDir({ prefix: `bundle-load-${driverName}-` });
  try {
    await fn({ driver, storage: new RegistryStorage(driver), dir });
    await assertNoLeftovers(driver);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cleanup();
  }
}

for (const d of STORAGE_DRIVERS) {
  for (const [name, fn] of Object.entries(CASES)) {
    Deno.test(`loadBundle (${d.name}): ${name}`, () => runCase(d.name, d.make, fn));
  }
  for (const [name, fn] of Object.entries(SIGNED_CASES)) {
    Deno.test(
      await needsTools(`loadBundle (${d.name}): ${name}`, "openssl"),
      () => runCase(d.name, d.make, fn),
    );
  }
}

/**
 * `bundle load` end to end: a generated bundle is loaded into a storage directory, the
 * registry daemon (a real subprocess) serves it, and real skopeo pulls every image
 * byte-identical; a complete rerun is quick; `kill -9` mid-load then a rerun gives the same
 * result as an uninterrupted load.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { MAIN_TS, runCli } from "./helpers/cli.ts";
import { cleanEnv, skopeo, startDaemon } from "./registry_helpers.ts";
import { needsTools } from "./helpers/tools.ts";

const runner = new ProcessRunner();

async function tagsOf(storageDir: string): Promise<Record<string, string>> {
  const storage = openDiskStorage(storageDir);
  const out: Record<string, string> = {};
  for (const repo of await storage.listRepositories()) {
    for (const tag of (await storage.listTags(repo)) ?? []) {
      out[`${repo}:${tag}`] = (await storage.resolveTag(repo, tag))!;
    }
  }
  return out;
}

async function blobsOf(storageDir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of openDiskStorage(storageDir).listBlobs()) out.push(b.digest);
  return out.sort();
}

Deno.test(
  await needsTools(
    "bundle load: skopeo pulls every image and chart byte-identical from the daemon",
    "skopeo",
  ),
  async () => {
    await using tmp = await tempDir();
    const bundle = join(tmp.path, "airgap-bundle-1.2.3.tar.gz");
    const contents = await makeBundle(bundle, { images: 4, layerSize: 256 * 1024 });
    const storage = join(tmp.path, "storage");
    const result = await loadBundle({
      bundle,
      storage: openDiskStorage(storage),
      prefix: "k0rdent-enterprise",
      verify: "off",
      runner,
    });
    assert.equal(result.k0rdentVersion, "1.2.3");
    assert.equal(result.alreadyLoaded, false);
    const expected = Object.fromEntries(
      [...contents.refs].map(([ref, digest]) => [`k0rdent-enterprise/${ref}`, digest]),
    );
    assert.deepEqual(await tagsOf(storage), expected);
    assert.ok(result.skipped.some((s) => s.path.endsWith("skopeo_1.17.0.tar")));
    // Shared base layer: stored once, read past afterwards.
    assert.ok(result.blobsPresent >= 3, `blobsPresent ${result.blobsPresent}`);

    const daemon = await startDaemon(["--storage", storage]);
    try {
      for (const [ref, digest] of Object.entries(expected)) {
        const out = join(tmp.path, "pull", ref.replaceAll(/[/:]/g, "_"));
        await Deno.mkdir(out, { recursive: true });
        await skopeo([
          "copy",
          "--all",
          "--preserve-digests",
          "--src-tls-verify=false",
          `docker://127.0.0.1:${daemon.port}/${ref}`,
          `oci:${out}:t`,
        ]);
        const index = JSON.parse(await Deno.readTextFile(join(out, "index.json")));
        assert.equal(index.manifests[0].digest, digest, ref);
        for await (const e of Deno.readDir(join(out, "blobs", "sha256"))) {
          const bytes = await Deno.readFile(join(out, "blobs", "sha256", e.name));
          assert.equal(createHash("sha256").update(bytes).digest("hex"), e.name, `${ref} blob`);
        }
      }
    } finally {
      await daemon.stop();
    }

    // A complete rerun only checks the tags.
    const t0 = performance.now();
    const again = await loadBundle({
      bundle,
      storage: openDiskStorage(storage),
      prefix: "k0rdent-enterprise",
      verify: "off",
      runner,
    });
    assert.equal(again.alreadyLoaded, true);
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(again.bytesRead, 0);
  },
);

Deno.test("bundle load: kill -9 mid-load, rerun: same tags and blobs as an uninterrupted load", async () => {
  await using tmp = await tempDir();
  const bundle = join(tmp.path, "b.tar");
  await makeBundle(bundle, { images: 12, layerSize: 4 * 1024 * 1024, format: "tar" });
  const reference = join(tmp.path, "reference");
  await loadBundle({
    bundle,
    storage: openDiskStorage(reference),
    prefix: "p",
    verify: "off",
    runner,
  });

  const storage = join(tmp.path, "storage");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...BINARY_PERMISSIONS,
      MAIN_TS,
      "bundle",
      "load",
      bundle,
      "--storage",
      storage,
      "--prefix",
      "p",
      "--verify=false",
      "--gunzip",
      "builtin",
    ],
    env: cleanEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Kill once a few blobs are in, before the tags are written.
  const deadline = Date.now() + 30_000;
  while ((await blobsOf(storage).catch(() => [])).length < 6 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  await child.status;
  const partial = await blobsOf(storage);
  assert.ok(partial.length >= 6, "the load did not start");
  assert.deepEqual(await tagsOf(storage), {}, "no tag before the load completes");

  const resumed = await loadBundle({
    bundle,
    storage: openDiskStorage(storage),
    prefix: "p",
    verify: "off",
    runner,
  });
  assert.equal(resumed.alreadyLoaded, false);
  // Nothing stored twice: blobs present before the rerun were read past.
  assert.ok(resumed.blobsPresent >= partial.length, `${resumed.blobsPresent} < ${partial.length}`);
  assert.deepEqual(await tagsOf(storage), await tagsOf(reference));
  assert.deepEqual(await blobsOf(storage), await blobsOf(reference));
});

Deno.test("bundle load: an extracted directory and a plain .tar load like the .tar.gz", async () => {
  await using tmp = await tempDir();
  const dir = join(tmp.path, "dir");
  const contents = await makeBundle(dir, { images: 2, format: "dir", topFolder: false });
  const storage = join(tmp.path, "s1");
  const result = await loadBundle({
    bundle: dir,
    storage: openDiskStorage(storage),
    prefix: "",
    verify: "off",
    runner,
  });
  assert.equal(result.k0rdentVersion, "1.2.3");
  assert.deepEqual(await tagsOf(storage), Object.fromEntries(contents.refs));
});

async function tempDir() {
  const path = await Deno.makeTempDir({ prefix: "bundle-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

Deno.test(
  await needsTools(
    "bundle load --importer skopeo tags the same digests as the native load",
    "skopeo",
  ),
  async () => {
    await using tmp = await tempDir();
    const bundle = join(tmp.path, "b.tar.gz");
    const contents = await makeBundle(bundle, { images: 3 });
    const storage = join(tmp.path, "s");
    const res = await runCli([
      "bundle",
      "load",
      bundle,
      "--storage",
      storage,
      "--importer",
      "skopeo",
      "--verify=false",
      "--output",
      "json",
    ]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).refs.length, contents.refs.size);
    const expected = Object.fromEntries(
      [...contents.refs].map(([ref, digest]) => [`k0rdent-enterprise/${ref}`, digest]),
    );
    assert.deepEqual(await tagsOf(storage), expected);
  },
);

Deno.test("bundle inspect --output json lists images, platforms, charts and writes nothing; load emits JSON progress", async () => {
  await using tmp = await tempDir();
  const bundle = join(tmp.path, "b.tar.gz");
  await makeBundle(bundle, { images: 2 });
  const before = [...Deno.readDirSync(tmp.path)].map((e) => e.name).sort();
  const res = await runCli(["bundle", "inspect", bundle, "--output", "json"]);
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual([...Deno.readDirSync(tmp.path)].map((e) => e.name).sort(), before);
  const report = JSON.parse(res.stdout);
  assert.equal(report.k0rdentVersion, "1.2.3");
  const pause = report.images.find((i: { reference: string }) =>
    i.reference.endsWith("k8s/pause:3.10")
  );
  assert.deepEqual(pause.platforms, ["linux/amd64", "linux/arm64"]);
  assert.equal(pause.mediaType, "application/vnd.oci.image.index.v1+json");
  const single = report.images.find((i: { reference: string }) =>
    i.reference.endsWith("image-0:v1.0.0")
  );
  assert.deepEqual(single.platforms, ["linux/amd64"]);
  assert.deepEqual(
    report.charts.map((c: { reference: string }) => c.reference).sort(),
    [
      "k0rdent-enterprise/charts/cluster-api-provider-aws:0.2.1",
      "k0rdent-enterprise/charts/k0rdent-enterprise:1.2.3",
    ],
  );
  assert.ok(report.skipped.some((s: { reason: string }) => s.reason === "bundled skopeo image"));

  const load = await runCli([
    "bundle",
    "load",
    bundle,
    "--storage",
    join(tmp.path, "s"),
    "--verify=false",
    "--output",
    "json",
  ]);
  assert.equal(load.code, 0, load.stderr);
  const events = load.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.equal(events[0].event, "start");
  assert.equal(events.at(-1).event, "done");
  assert.equal(events.at(-1).done, (await Deno.stat(bundle)).size);
  assert.equal(JSON.parse(load.stdout).k0rdentVersion, "1.2.3");
});

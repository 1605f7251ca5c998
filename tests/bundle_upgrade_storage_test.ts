/**
 * The registry storage across bundle versions: three bundles (k0rdent 1.0.0, 1.1.0, 1.2.0) that
 * share most layers. A second bundle loaded by another process into the storage a running daemon
 * serves writes only its new blobs, is served at once, and pulls of the first go on meanwhile
 * (real skopeo); `registry gc --keep-bundles` collects the oldest bundle's own tags and blobs
 * only, its dry run says exactly what the run frees, the version in use, user tags and moved
 * tags stay, and a rerun changes nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { markInUse } from "../src/bundle/loading/in_use.ts";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { type LoadStatus, writeLoadStatus } from "../src/bundle/loading/load_state.ts";
import { readBundleRecords } from "../src/bundle/loading/records.ts";
import { collectOldBundles } from "../src/bundle/loading/retention.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { type BundleContents, makeBundle } from "./fixtures/make_bundle.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { storeManifest } from "./helpers/store_image.ts";
import { needsTools } from "./helpers/tools.ts";
import { skopeo, startDaemon } from "./registry_helpers.ts";

const PREFIX = "k0rdent-enterprise";
const ENV = { env: { K0RDENTD_CONFIG_FILE: "/dev/null" } };
const DAY = 86_400_000;

/**
 * k0rdent version, image revisions (image-0 and image-1 change), a k0s binary of its own in the
 * bundle and one beside it (each bundle in a directory of its own, as the vendor ships them).
 */
const VERSIONS = [
  {
    version: "1.0.0",
    revisions: [0, 0],
    k0s: "k0s-v1.31.1+k0s.0-amd64",
    beside: "k0s-v1.31.1+k0s.0-arm64",
  },
  {
    version: "1.1.0",
    revisions: [1, 0],
    k0s: "k0s-v1.32.1+k0s.0-amd64",
    beside: "k0s-v1.32.1+k0s.0-arm64",
  },
  {
    version: "1.2.0",
    revisions: [2, 1],
    k0s: "k0s-v1.33.1+k0s.0-amd64",
    beside: "k0s-v1.33.1+k0s.0-arm64",
  },
];

interface Bundle {
  path: string;
  contents: BundleContents;
  /** `<prefix>/<repository>:<tag>` -> digest. */
  refs: Map<string, string>;
}

async function makeBundles(dir: string, layerSize: number): Promise<Bundle[]> {
  const out: Bundle[] = [];
  for (const [i, v] of VERSIONS.entries()) {
    await Deno.mkdir(join(dir, v.version));
    const path = join(dir, v.version, `airgap-bundle-${v.version}.tar.gz`);
    await Deno.writeFile(join(dir, v.version, v.beside), new Uint8Array(20_000 + i).fill(i + 7));
    const contents = await makeBundle(path, {
      version: v.version,
      images: 6,
      layerSize,
      imageRevisions: v.revisions,
      files: [{ name: `k0s/${v.k0s}`, data: new Uint8Array(10_000 + i).fill(i + 1) }],
    });
    const refs = new Map([...contents.refs].map(([ref, d]) => [`${PREFIX}/${ref}`, d]));
    out.push({ path, contents, refs });
  }
  return out;
}

/** Sum of the sizes of `digests` in `sizes`. */
function bytesOf(sizes: Map<string, number>, digests: Iterable<string>): number {
  let n = 0;
  for (const d of digests) n += sizes.get(d)!;
  return n;
}

/** Digests of `a`'s blobs that none of `others` has. */
function onlyIn(a: Bundle, ...others: Bundle[]): string[] {
  return [...a.contents.blobSizes.keys()].filter((d) =>
    !others.some((o) => o.contents.blobSizes.has(d))
  );
}

/** Every file under `<storage>/blobs` with its size (what the loads wrote to disk). */
async function blobFiles(storage: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else out.set(p, (await Deno.stat(p)).size);
    }
  };
  await walk(join(storage, "blobs"));
  return out;
}

function sum(files: Map<string, number>): number {
  return [...files.values()].reduce((a, b) => a + b, 0);
}

/** Every tag of the storage: `<repository>:<tag>` -> digest. */
async function tagsOf(storage: string): Promise<Map<string, string>> {
  const s = openDiskStorage(storage);
  const out = new Map<string, string>();
  for (const repo of await s.listRepositories()) {
    for (const tag of (await s.listTags(repo)) ?? []) {
      out.set(`${repo}:${tag}`, (await s.resolveTag(repo, tag))!);
    }
  }
  return out;
}

/** Makes every blob look loaded two days ago (past gc's one-hour grace period). */
async function ageBlobs(storage: string): Promise<void> {
  const then = new Date(Date.now() - 2 * DAY);
  for (const path of (await blobFiles(storage)).keys()) await Deno.utime(path, then, then);
}

async function load(bundle: Bundle, storage: string) {
  return await loadBundle({
    bundle: bundle.path,
    storage: openDiskStorage(storage),
    prefix: PREFIX,
    verify: "off",
    runner: new ProcessRunner(),
  });
}

async function manifestDigest(port: number, ref: string): Promise<string | null> {
  const colon = ref.lastIndexOf(":");
  const res = await fetch(
    `http://127.0.0.1:${port}/v2/${ref.slice(0, colon)}/manifests/${ref.slice(colon + 1)}`,
    {
      method: "HEAD",
      headers: {
        Accept: "application/vnd.oci.image.manifest.v1+json, " +
          "application/vnd.oci.image.index.v1+json",
      },
    },
  );
  await res.body?.cancel();
  return res.status === 200 ? res.headers.get("Docker-Content-Digest") : null;
}

Deno.test(
  await needsTools(
    "bundle load of a second version into a serving daemon's storage: only new blobs written, " +
      "served at once, pulls of the first go on",
    "skopeo",
  ),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-delta-" });
    try {
      const [b1, b2] = await makeBundles(dir, 512 * 1024);
      const storage = join(dir, "storage");
      const loadCli = (b: Bundle) =>
        spawnCli([
          "bundle",
          "load",
          b.path,
          "--storage",
          storage,
          "--verify=false",
          "--output",
          "json",
        ], ENV);
      const first = await loadCli(b1).result;
      assert.equal(first.code, 0, first.stderr);
      assert.equal(JSON.parse(first.stdout).bytesStored, b1.contents.uniqueBlobBytes);

      const daemon = await startDaemon(["--storage", storage]);
      try {
        // skopeo pulls version 1 (a single image and the multi-arch index) over and over.
        let loading = true;
        const pulls: { ok: boolean; start: number; end: number; error?: string }[] = [];
        const pullLoop = (async () => {
          const refs = [`${PREFIX}/capi/image-0:v1.0.0`, `${PREFIX}/k8s/pause:3.10`];
          for (let i = 0; loading || pulls.length < 2; i++) {
            const out = join(dir, `pull-${i}`);
            const start = performance.now();
            const res = await skopeo([
              "copy",
              "--all",
              "--src-tls-verify=false",
              `docker://127.0.0.1:${daemon.port}/${refs[i % 2]}`,
              `oci:${out}:t`,
            ], true);
            pulls.push({ ok: res.code === 0, start, end: performance.now(), error: res.stderr });
            await Deno.remove(out, { recursive: true }).catch(() => {});
          }
        })();
        while (pulls.length === 0) await new Promise((r) => setTimeout(r, 20));

        const before = await blobFiles(storage);
        const loadStart = performance.now();
        const second = await loadCli(b2).result;
        const loadEnd = performance.now();
        loading = false;
        assert.equal(second.code, 0, second.stderr);
        // Version 2's tags are served the moment the load ends (no restart, no cache to expire).
        for (const [ref, digest] of b2.refs) {
          assert.equal(await manifestDigest(daemon.port, ref), digest, ref);
        }
        await pullLoop;

        const result = JSON.parse(second.stdout);
        const newBlobs = onlyIn(b2, b1);
        const expectedNew = bytesOf(b2.contents.blobSizes, newBlobs);
        assert.equal(result.blobsStored, newBlobs.length);
        assert.equal(result.bytesStored, expectedNew);
        const shared = b2.contents.uniqueBlobBytes - expectedNew;
        assert.ok(result.bytesPresent >= shared, `${result.bytesPresent} < ${shared} reused`);
        // On disk: the new blobs and nothing else.
        const after = await blobFiles(storage);
        assert.equal(sum(after) - sum(before), expectedNew);
        assert.ok(
          expectedNew < b2.contents.uniqueBlobBytes / 3,
          `a delta: ${expectedNew} of ${b2.contents.uniqueBlobBytes} bytes`,
        );
        // `registry status` of the load says the same.
        const status = await runCli(
          ["registry", "status", "--storage", storage, "--output", "json"],
          ENV,
        );
        assert.equal(status.code, 0, status.stderr);
        const s = JSON.parse(status.stdout);
        assert.equal(s.bytesStored, expectedNew);
        assert.equal(s.bytesPresent, result.bytesPresent);
        assert.deepEqual(s.bundles.map((b: { k0rdentVersion: string }) => b.k0rdentVersion), [
          "1.1.0",
          "1.0.0",
        ]);

        const failed = pulls.filter((p) => !p.ok);
        assert.deepEqual(failed, [], "every pull of version 1 succeeded");
        assert.ok(
          pulls.some((p) => p.start < loadEnd && p.end > loadStart),
          "pulls ran while the second bundle loaded",
        );
        // Both versions are served whole.
        for (const [ref, digest] of [...b1.refs, ...b2.refs]) {
          assert.equal(await manifestDigest(daemon.port, ref), digest, ref);
        }
        for (const ref of [`${PREFIX}/capi/image-0:v1.0.1`, `${PREFIX}/capi/image-0:v1.0.0`]) {
          await skopeo([
            "copy",
            "--src-tls-verify=false",
            `docker://127.0.0.1:${daemon.port}/${ref}`,
            `oci:${join(dir, "final")}:${ref.slice(ref.lastIndexOf(":") + 1)}`,
          ]);
        }

        // gc in another process: the daemon stops serving the removed tags at once.
        const gc = await runCli(
          ["registry", "gc", "--storage", storage, "--keep-bundles", "1", "--output", "json"],
          ENV,
        );
        assert.equal(gc.code, 0, gc.stderr);
        const removed = JSON.parse(gc.stdout).bundles.tags.map(
          (t: { repository: string; tag: string }) => `${t.repository}:${t.tag}`,
        );
        assert.deepEqual(removed.sort(), [
          `${PREFIX}/capi/image-0:v1.0.0`,
          `${PREFIX}/charts/k0rdent-enterprise:1.0.0`,
        ]);
        for (const ref of removed) assert.equal(await manifestDigest(daemon.port, ref), null, ref);
        // The k0s binaries 1.0.0 brought, in the bundle and beside it, went with it.
        assert.deepEqual(
          JSON.parse(gc.stdout).bundles.k0sBinaries.map((b: { name: string }) => b.name).sort(),
          [VERSIONS[0].k0s, VERSIONS[0].beside].sort(),
        );
        const stored = [];
        for await (const e of Deno.readDir(join(storage, "files/k0s"))) stored.push(e.name);
        assert.deepEqual(stored.sort(), [VERSIONS[1].k0s, VERSIONS[1].beside].sort());
        for (const [ref, digest] of b2.refs) {
          assert.equal(await manifestDigest(daemon.port, ref), digest, ref);
        }
      } finally {
        await daemon.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("registry gc --keep-bundles 2 after a third bundle: the dry run reports exactly what the run frees, the first bundle's own tags and blobs go, a rerun changes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-gc-" });
  try {
    const [b1, b2, b3] = await makeBundles(dir, 64 * 1024);
    const storage = join(dir, "storage");
    for (const b of [b1, b2, b3]) await load(b, storage);
    // A user's own image, which no bundle recorded.
    const user = await storeManifest(openDiskStorage(storage), "team/tool", "amd64", "1.0");
    await ageBlobs(storage);

    const gc = async (...flags: string[]) => {
      const res = await runCli(
        ["registry", "gc", "--storage", storage, "--output", "json", ...flags],
        ENV,
      );
      assert.equal(res.code, 0, res.stderr);
      return JSON.parse(res.stdout);
    };
    const tagsBefore = await tagsOf(storage);
    const filesBefore = await blobFiles(storage);

    const freedBlobs = onlyIn(b1, b2, b3).sort();
    const freedBytes = bytesOf(b1.contents.blobSizes, freedBlobs);
    const goneTags = [...b1.refs.keys()].filter((r) => !b2.refs.has(r) && !b3.refs.has(r)).sort();
    assert.deepEqual(goneTags, [
      `${PREFIX}/capi/image-0:v1.0.0`,
      `${PREFIX}/charts/k0rdent-enterprise:1.0.0`,
    ]);
    const tagNames = (r: { bundles: { tags: { repository: string; tag: string }[] } }) =>
      r.bundles.tags.map((t) => `${t.repository}:${t.tag}`).sort();

    const dry = await gc("--dry-run");
    assert.equal(dry.dryRun, true);
    assert.deepEqual(tagNames(dry), goneTags);
    assert.deepEqual(dry.blobs.map((b: { digest: string }) => b.digest).sort(), freedBlobs);
    assert.equal(dry.bytes, freedBytes);
    assert.deepEqual(dry.bundles.kept, ["1.2.0", "1.1.0"]);
    assert.deepEqual(dry.bundles.collected, ["1.0.0"]);
    assert.deepEqual(dry.bundles.k0sBinaries, [{ name: VERSIONS[0].k0s, size: 10_000 }]);
    assert.deepEqual(await tagsOf(storage), tagsBefore, "a dry run changes nothing");
    assert.deepEqual(await blobFiles(storage), filesBefore);

    const real = await gc();
    assert.equal(real.dryRun, false);
    assert.deepEqual(tagNames(real), tagNames(dry));
    assert.deepEqual(real.blobs, dry.blobs);
    assert.equal(real.bytes, dry.bytes);
    assert.equal(real.bundles.manifests, dry.bundles.manifests);
    assert.deepEqual(real.bundles.k0sBinaries, dry.bundles.k0sBinaries);

    const tagsAfter = await tagsOf(storage);
    const expected = new Map([...tagsBefore].filter(([ref]) => !goneTags.includes(ref)));
    assert.deepEqual(tagsAfter, expected);
    assert.equal(tagsAfter.get("team/tool:1.0"), user.digest, "the user's tag stays");
    for (const b of [b2, b3]) {
      for (const [ref, digest] of b.refs) assert.equal(tagsAfter.get(ref), digest, ref);
    }
    const filesAfter = await blobFiles(storage);
    assert.equal(sum(filesBefore) - sum(filesAfter), freedBytes);
    const s = openDiskStorage(storage);
    for (const d of b2.contents.blobSizes.keys()) assert.ok(await s.hasBlob(d), d);
    for (const d of b3.contents.blobSizes.keys()) assert.ok(await s.hasBlob(d), d);
    for (const d of freedBlobs) assert.equal(await s.hasBlob(d), false, d);
    const k0s = (name: string) =>
      Deno.stat(join(storage, "files/k0s", name)).then(() => true, () => false);
    assert.equal(await k0s(VERSIONS[0].k0s), false);
    assert.equal(await k0s(VERSIONS[1].k0s), true);
    assert.equal(await k0s(VERSIONS[2].k0s), true);
    assert.deepEqual(
      (await readBundleRecords(openDiskStorage(storage).driver)).map((r) => r.version),
      ["1.2.0", "1.1.0"],
    );

    const again = await gc();
    assert.deepEqual(again.bundles.tags, []);
    assert.deepEqual(again.blobs, []);
    assert.equal(again.bundles.manifests, 0);
    assert.deepEqual(await tagsOf(storage), tagsAfter, "a rerun changes nothing");
    assert.deepEqual(await blobFiles(storage), filesAfter);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("collectOldBundles() keeps the version marked in use however old and a tag moved since the load, and collects nothing while a load runs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-gc-inuse-" });
  try {
    const [b1, b2, b3] = await makeBundles(dir, 16 * 1024);
    const storage = join(dir, "storage");
    for (const b of [b1, b2, b3]) await load(b, storage);
    await markInUse(storage, "1.0.0");
    // A user moved one of 1.1.0's own tags to another manifest of the repository.
    const s = openDiskStorage(storage);
    const chart = `${PREFIX}/charts/k0rdent-enterprise`;
    await s.tagManifest(chart, "1.1.0", b3.refs.get(`${chart}:1.2.0`)!);
    await ageBlobs(storage);

    // While a load runs (its status names a live process), no bundle is collected.
    const now = new Date().toISOString();
    const status: LoadStatus = {
      bundle: b3.path,
      state: "loading",
      bytesRead: 0,
      bytesTotal: 1,
      imagesDone: 0,
      startedAt: now,
      updatedAt: now,
      pid: Deno.ppid,
    };
    await writeLoadStatus(openDiskStorage(storage).driver, status);
    const busy = await collectOldBundles(storage, { keep: 1, dryRun: false });
    assert.match(busy.bundles.skipped ?? "", /a load of ".*1\.2\.0\.tar\.gz" is in progress/);
    assert.deepEqual(busy.bundles.tags, []);
    assert.deepEqual(busy.blobs, []);
    await writeLoadStatus(openDiskStorage(storage).driver, { ...status, state: "complete" });

    const report = await collectOldBundles(storage, { keep: 1, dryRun: false });
    assert.equal(report.bundles.skipped, undefined);
    assert.deepEqual(report.bundles.kept, ["1.2.0", "1.0.0"]);
    assert.equal(report.bundles.inUse, "1.0.0");
    assert.deepEqual(report.bundles.collected, ["1.1.0"]);
    assert.deepEqual(report.bundles.tags.map((t) => `${t.repository}:${t.tag}`), [
      `${PREFIX}/capi/image-0:v1.0.1`,
    ]);
    assert.deepEqual(report.bundles.movedTags.map((t) => `${t.repository}:${t.tag}`), [
      `${chart}:1.1.0`,
    ]);
    assert.equal(await s.resolveTag(chart, "1.1.0"), b3.refs.get(`${chart}:1.2.0`));
    for (const [ref, digest] of [...b1.refs, ...b3.refs]) {
      const colon = ref.lastIndexOf(":");
      assert.equal(await s.resolveTag(ref.slice(0, colon), ref.slice(colon + 1)), digest, ref);
    }
    // 1.1.0's own image went with its blobs; its chart, still tagged (moved), kept its own.
    const freed = report.blobs.map((b) => b.digest);
    const own = onlyIn(b2, b1, b3);
    assert.ok(freed.every((d) => own.includes(d)), "only blobs of 1.1.0 alone");
    assert.ok(freed.includes(b2.refs.get(`${PREFIX}/capi/image-0:v1.0.1`)!));
    assert.ok(!freed.includes(b2.refs.get(`${chart}:1.1.0`)!));
    assert.equal(freed.length, 3, "image-0 v1.0.1: manifest, config, layer");
    assert.deepEqual(report.bundles.k0sBinaries.map((b) => b.name), [VERSIONS[1].k0s]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("registry gc --keep-bundles refuses 0, abc and 1.5 with one line, exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-gc-bad-" });
  try {
    for (const bad of ["0", "abc", "1.5"]) {
      const res = await runCli(["registry", "gc", "--storage", dir, "--keep-bundles", bad], ENV);
      assert.equal(res.code, 2, res.stderr);
      // One line saying what is wrong (then the CLI's usage hint), no stack trace.
      const [line, ...rest] = res.stderr.trim().split("\n");
      assert.equal(
        line,
        `ERROR Invalid --keep-bundles "${bad}": expected a whole number of at least 1`,
      );
      assert.deepEqual(rest, ["(run with --help for usage)"]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

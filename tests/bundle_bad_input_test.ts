/**
 * Bad bundles: each load fails with one clear line naming the file, and leaves no tag.
 * Bundles are crafted with the fixture generator's low-level helpers.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../src/bundle/loading/load.ts";
import type { Decompressor } from "../src/bundle/reading/source.ts";
import { UserError } from "../src/errors.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import {
  type BundleEntry,
  chartArchive,
  fileEntry,
  imageArchive,
  imageManifest,
  indexFor,
  makeBundle,
  ociArchive,
  randomLayer,
  writeBundle,
} from "./fixtures/make_bundle.ts";
import { runCli } from "./helpers/cli.ts";
import { needsTools } from "./helpers/tools.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

const runner = new ProcessRunner();

async function goodImage(seed: number) {
  const layer = await randomLayer(2048, seed);
  return { layer, ...imageManifest([layer]) };
}

async function expectFailure(
  entries: BundleEntry[],
  pattern: RegExp,
  format: "tar" | "tar.gz" = "tar",
  decompressor: Decompressor = "builtin",
) {
  const dir = await Deno.makeTempDir({ prefix: "bundle-bad-" });
  try {
    const bundle = join(dir, `bad.${format}`);
    // A good archive first, so a failure later must not leave its tag behind.
    const good = {
      name: "good_1.0.tar",
      data: await imageArchive([await randomLayer(99, 99)]),
    };
    await writeBundle(bundle, [good, ...entries], format);
    const storage = join(dir, "storage");
    await assert.rejects(
      loadBundle({
        bundle,
        storage: openDiskStorage(storage),
        prefix: "p",
        verify: "off",
        runner,
        decompressor,
      }),
      (err: Error) => {
        assert.ok(err instanceof UserError, `not a UserError: ${err.stack}`);
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes("\n"), "one line");
        assert.ok(err.message.includes(bundle), "names the bundle");
        return true;
      },
    );
    assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "no partial tag");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bundle load rejects a corrupt blob (digest mismatch)", async () => {
  const { layer, manifest, config } = await goodImage(1);
  const corrupt = { ...layer, bytes: layer.bytes.slice() };
  corrupt.bytes[100] ^= 0xff;
  const archive = await ociArchive({
    index: indexFor(manifest),
    blobs: [manifest, config, corrupt],
  });
  await expectFailure(
    [{ name: "capi/img_1.0.tar", data: archive }],
    /archive "capi\/img_1\.0\.tar" blob "sha256:[a-f0-9]{64}" is corrupt/,
  );
});

Deno.test("bundle load rejects ../ and absolute paths, symlinks and hard links", async () => {
  const data = await imageArchive([await randomLayer(10, 2)]);
  await expectFailure(
    [{ name: "../evil_1.0.tar", data }],
    /entry "\.\.\/evil_1\.0\.tar" has a "\.\."/,
  );
  await expectFailure([{ name: "/abs/evil_1.0.tar", data }], /has an absolute path/);
  await expectFailure(
    [{ name: "capi/link_1.0.tar", type: "symlink", linkname: "/etc/passwd" }],
    /entry "capi\/link_1\.0\.tar" is a symbolic link/,
  );
  await expectFailure(
    [{ name: "capi/hard_1.0.tar", type: "link", linkname: "good_1.0.tar" }],
    /is a hard link/,
  );
  const { manifest, config, layer } = await goodImage(3);
  const inner = await ociArchive({
    index: indexFor(manifest),
    blobs: [manifest, config, layer],
    extra: [{
      header: { name: "blobs/sha256/x", size: 0, type: "symlink", linkname: "/etc/shadow" },
    }],
  });
  await expectFailure(
    [{ name: "capi/inner_1.0.tar", data: inner }],
    /archive "capi\/inner_1\.0\.tar" entry "blobs\/sha256\/x" is a symbolic link/,
  );
});

Deno.test("bundle load rejects a missing index.json, a dangling index and a docker save archive", async () => {
  const { manifest, config, layer } = await goodImage(4);
  await expectFailure(
    [{
      name: "capi/noindex_1.0.tar",
      data: await ociArchive({ blobs: [manifest, config, layer] }),
    }],
    /archive "capi\/noindex_1\.0\.tar" has no index\.json/,
  );
  await expectFailure(
    [{
      name: "capi/dangling_1.0.tar",
      data: await ociArchive({ index: indexFor(manifest), blobs: [manifest, config] }),
    }],
    /points at blob "sha256:[a-f0-9]{64}" which is not in the archive/,
  );
  const docker = await ociArchive({
    blobs: [config, layer],
    extra: [fileEntry("manifest.json", JSON.stringify([{ Config: "x", Layers: [] }]))],
  });
  await expectFailure([{ name: "capi/docker_1.0.tar", data: docker }], /"docker save" archive/);
});

Deno.test("bundle load rejects names that yield an invalid repository or no tag", async () => {
  const data = await imageArchive([await randomLayer(10, 5)]);
  await expectFailure(
    [{ name: "capi/Bad_1.0.tar", data }],
    /archive "capi\/Bad_1\.0\.tar": "p\/capi\/Bad" is not a valid repository name/,
  );
  await expectFailure(
    [{ name: "capi/notag.tar", data }],
    /"capi\/notag\.tar": file name has no tag/,
  );
});

/** Writes a bundle of `format` cut at 60% into `dir`; returns its path. */
async function truncatedBundle(dir: string, format: "tar.gz" | "tar"): Promise<string> {
  const whole = join(dir, `whole.${format}`);
  await makeBundle(whole, { images: 2, layerSize: 64 * 1024, format });
  const bytes = await Deno.readFile(whole);
  const cut = join(dir, `cut.${format}`);
  await Deno.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  return cut;
}

/** Loads the truncated `cut` with `decompressor`: one clear error, nothing stored. */
async function assertTruncatedFails(cut: string, decompressor: Decompressor) {
  const storage = `${cut}-${decompressor}-storage`;
  await assert.rejects(
    loadBundle({
      bundle: cut,
      storage: openDiskStorage(storage),
      prefix: "p",
      verify: "off",
      runner,
      decompressor,
    }),
    cut.endsWith(".tar.gz")
      ? /Cannot read bundle ".*cut\.tar\.gz": unexpected end of gzip stream/
      : /Cannot read bundle ".*cut\.tar": (archive ".*" )?tar archive is truncated/,
  );
  assert.deepEqual(await openDiskStorage(storage).listRepositories(), []);
}

Deno.test("bundle load rejects a truncated gzip and a truncated tar", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-trunc-" });
  try {
    for (const format of ["tar.gz", "tar"] as const) {
      await assertTruncatedFails(await truncatedBundle(dir, format), "builtin");
    }
    // Through the CLI: exit 1, one line, no stack trace.
    const res = await runCli([
      "bundle",
      "load",
      join(dir, "cut.tar.gz"),
      "--storage",
      join(dir, "cli"),
      "--verify=false",
    ]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /unexpected end of gzip stream/);
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  await needsTools("bundle load --gunzip pigz rejects a truncated gzip", "pigz"),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-trunc-pigz-" });
    try {
      await assertTruncatedFails(await truncatedBundle(dir, "tar.gz"), "pigz");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("bundle load reports a missing bundle in one line", async () => {
  await assert.rejects(
    loadBundle({
      bundle: "/nonexistent/b.tar.gz",
      storage: openDiskStorage("/tmp/x"),
      prefix: "",
      verify: "off",
      runner,
    }),
    /Cannot read bundle "\/nonexistent\/b\.tar\.gz": no such file or directory/,
  );
});

Deno.test("bundle load: a chart layer that is not gzip fails in one line naming the chart file", async () => {
  const notGzip = new TextEncoder().encode("not gzip at all");
  const { archive } = await chartArchive("k0rdent-enterprise", "1.2.3", notGzip);
  await expectFailure(
    [{ name: "charts/k0rdent-enterprise_1.2.3.tar", data: archive }],
    /: chart "charts\/k0rdent-enterprise_1\.2\.3\.tar": chart layer: not a gzip stream \(incorrect header check\)$/,
    "tar.gz",
  );
});

Deno.test("bundle load: the chart is read only after the signature checked out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-bad-sig-" });
  try {
    const { archive } = await chartArchive(
      "k0rdent-enterprise",
      "1.2.3",
      new TextEncoder().encode("not gzip at all"),
    );
    const bundle = join(dir, "b.tar.gz");
    await writeBundle(
      bundle,
      [
        { name: "good_1.0.tar", data: await imageArchive([await randomLayer(99, 99)]) },
        { name: "charts/k0rdent-enterprise_1.2.3.tar", data: archive },
      ],
      "tar.gz",
    );
    // Signed with another key than the one given: the chart must not be looked at.
    await makeKeyPair(dir);
    await makeKeyPair(dir, "other.pem", "other.pub");
    await signBlob(dir, "b.tar.gz");
    const storage = join(dir, "storage");
    await assert.rejects(
      loadBundle({
        bundle,
        storage: openDiskStorage(storage),
        prefix: "p",
        verify: "native",
        key: join(dir, "other.pub"),
        runner,
      }),
      /: Signature check of bundle ".*b\.tar\.gz" failed: the signature does not match/,
    );
    assert.deepEqual(await openDiskStorage(storage).listRepositories(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bundle load: data after the end of the gzip stream is named as such, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-trailing-" });
  try {
    const whole = join(dir, "whole.tar.gz");
    await makeBundle(whole, { images: 2, layerSize: 64 * 1024 });
    const bundle = join(dir, "trailing.tar.gz");
    const bytes = await Deno.readFile(whole);
    await Deno.writeFile(
      bundle,
      new Uint8Array([...bytes, ...new TextEncoder().encode("garbage!")]),
    );
    const storage = join(dir, "storage");
    await assert.rejects(
      loadBundle({ bundle, storage: openDiskStorage(storage), prefix: "p", verify: "off", runner }),
      (err: Error) => {
        assert.ok(err instanceof UserError, String(err));
        assert.equal(
          err.message,
          `Cannot read bundle "${bundle}": unexpected data after the end of the gzip stream ` +
            "(the file has trailing garbage)",
        );
        return true;
      },
    );
    assert.deepEqual(await openDiskStorage(storage).listRepositories(), []);
    const res = await runCli(["bundle", "load", bundle, "--storage", storage, "--verify=false"]);
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /unexpected data after the end of the gzip stream/);
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

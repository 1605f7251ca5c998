/**
 * Tests of extractAsset(): a fake k0s (a small shell script, so no real k0s is
 * needed) is staged by the build's own staging code into a temp assets dir
 * with its metadata, then extracted; corrupt and truncated assets must fail
 * and leave no file behind.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stageAsset, writeBuildInfo } from "../../tasks/stage_assets.ts";
import { CancelledError, UserError } from "../errors.ts";
import type { AssetCompression, BuildInfo } from "./build_info.ts";
import { extractAsset, findAsset } from "./extract.ts";

const FAKE_K0S = "#!/bin/sh\n# fake k0s for tests\necho 'v1.32.8+k0s.0'\n" + "x".repeat(70_000) +
  "\n";

/** A temp dir with `assets/` (fake k0s staged + build-info.json) and an empty `out/`. */
async function stagedAssets(compression: AssetCompression = "gzip") {
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-extract-" });
  const source = join(root, "k0s-src");
  await Deno.writeTextFile(source, FAKE_K0S);
  const dir = join(root, "assets");
  const asset = await stageAsset({
    name: "k0s",
    version: "v1.32.8+k0s.0",
    source,
    dir,
    compression,
  });
  const info: BuildInfo = {
    flavor: "airgap",
    version: "0.1.0",
    k0sVersion: "v1.32.8+k0s.0",
    assets: [asset],
  };
  await writeBuildInfo(dir, info);
  await Deno.mkdir(join(root, "out"));
  return {
    root,
    dir,
    asset,
    out: join(root, "out"),
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
}

for (const compression of ["gzip", "brotli"] as const) {
  Deno.test(`extractAsset() writes the ${compression} asset byte-identical with mode 0755`, async () => {
    await using t = await stagedAssets(compression);
    assert.ok(t.asset.compressedSize < t.asset.size, "the staged asset is compressed");
    const target = join(t.out, "k0s");
    const seen: number[] = [];
    const result = await extractAsset("k0s", target, {
      dir: t.dir,
      onProgress: (written) => seen.push(written),
    });
    assert.equal(await Deno.readTextFile(target), FAKE_K0S);
    assert.equal((await Deno.stat(target)).mode! & 0o777, 0o755);
    assert.deepEqual(result, {
      name: "k0s",
      version: "v1.32.8+k0s.0",
      path: target,
      size: FAKE_K0S.length,
      sha256: t.asset.sha256,
    });
    assert.equal(seen.at(-1), FAKE_K0S.length);
    assert.deepEqual(await listDir(t.out), ["k0s"]);
    // The extracted script runs.
    const run = await new Deno.Command(target, { stdout: "piped" }).output();
    assert.equal(new TextDecoder().decode(run.stdout), "v1.32.8+k0s.0\n");
  });
}

Deno.test("extractAsset() replaces an existing file and reads K0RDENTD_ASSETS_DIR by default", async () => {
  await using t = await stagedAssets();
  const target = join(t.out, "k0s");
  await Deno.writeTextFile(target, "old");
  Deno.env.set("K0RDENTD_ASSETS_DIR", t.dir);
  try {
    await extractAsset("k0s", target);
  } finally {
    Deno.env.delete("K0RDENTD_ASSETS_DIR");
  }
  assert.equal(await Deno.readTextFile(target), FAKE_K0S);
});

Deno.test("extractAsset() rejects an asset with a flipped byte and leaves no file", async () => {
  await using t = await stagedAssets();
  const path = join(t.dir, t.asset.file);
  const bytes = await Deno.readFile(path);
  bytes[Math.floor(bytes.length / 2)] ^= 0xff;
  await Deno.writeFile(path, bytes);
  const target = join(t.out, "k0s");
  await assert.rejects(
    extractAsset("k0s", target, { dir: t.dir }),
    (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^Cannot extract embedded k0s v1\.32\.8\+k0s\.0 to ".*k0s": /);
      assert.match(err.message, /the embedded asset "k0s.gz" is corrupt or truncated: /);
      return true;
    },
  );
  assert.deepEqual(await listDir(t.out), []);
});

Deno.test("extractAsset() rejects a correctly compressed asset whose content differs", async () => {
  await using t = await stagedAssets();
  // Re-stage different content under the same metadata: decompression succeeds, the digest must not.
  const other = join(t.root, "other");
  await Deno.writeTextFile(other, FAKE_K0S.replace("fake", "evil"));
  await stageAsset({ name: "k0s", version: "v1", source: other, dir: t.dir, compression: "gzip" });
  await assert.rejects(
    extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir }),
    /SHA-256 mismatch: got [0-9a-f]{64}, expected [0-9a-f]{64}/,
  );
  assert.deepEqual(await listDir(t.out), []);
});

for (const compression of ["gzip", "brotli"] as const) {
  Deno.test(`extractAsset() rejects a truncated ${compression} asset and leaves no file`, async () => {
    await using t = await stagedAssets(compression);
    const path = join(t.dir, t.asset.file);
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await assert.rejects(
      extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir }),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /is corrupt or truncated: /);
        return true;
      },
    );
    assert.deepEqual(await listDir(t.out), []);
  });
}

Deno.test("extractAsset() says which file is missing", async () => {
  await using t = await stagedAssets();
  await Deno.remove(join(t.dir, t.asset.file));
  await assert.rejects(
    extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir }),
    /^UserError: Cannot extract embedded k0s v1\.32\.8\+k0s\.0: cannot read ".*k0s\.gz": /,
  );
});

Deno.test("extractAsset() fails cleanly when the target dir is not writable", async () => {
  await using t = await stagedAssets();
  const target = join(t.root, "k0s-file", "k0s"); // parent is a regular file
  await Deno.writeTextFile(join(t.root, "k0s-file"), "");
  await assert.rejects(extractAsset("k0s", target, { dir: t.dir }), UserError);
});

Deno.test("extractAsset() stops on abort and leaves no file", async () => {
  await using t = await stagedAssets();
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir, signal: controller.signal }),
    CancelledError,
  );
  assert.deepEqual(await listDir(t.out), []);
});

Deno.test("extractAsset() rejects metadata with an unknown compression or a path as file name", async () => {
  await using t = await stagedAssets();
  const zstd = { flavor: "airgap", version: "0", assets: [{ ...t.asset, compression: "zstd" }] };
  await assert.rejects(
    extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir, info: zstd as BuildInfo }),
    /^UserError: Cannot extract embedded k0s v1\.32\.8\+k0s\.0: unknown compression "zstd"/,
  );
  const escape: BuildInfo = {
    flavor: "airgap",
    version: "0",
    assets: [{ ...t.asset, file: "../k0s-src" }],
  };
  await assert.rejects(
    extractAsset("k0s", join(t.out, "k0s"), { dir: t.dir, info: escape }),
    /invalid file name "\.\.\/k0s-src" in metadata/,
  );
  assert.deepEqual(await listDir(t.out), []);
});

Deno.test("findAsset() explains online builds and missing assets", () => {
  assert.throws(
    () => findAsset({ flavor: "online", version: "0.1.0", assets: [] }, "k0s"),
    /online build of k0rdentd: no k0s binary is embedded/,
  );
  assert.throws(
    () => findAsset({ flavor: "airgap", version: "0.1.0", assets: [] }, "helm"),
    /air-gap build embeds no helm binary \(embedded: none\)/,
  );
});

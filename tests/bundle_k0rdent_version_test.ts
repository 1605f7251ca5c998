/**
 * `bundleK0rdentVersion()`: the k0rdent version from the chart archive's name in real bundle
 * files (tar.gz, tar, directory) written with the fixture generator, reading no further.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { bundleK0rdentVersion } from "../src/bundle/reading/k0rdent_version.ts";
import { UserError } from "../src/errors.ts";
import {
  type BundleEntry,
  type BundleFormat,
  chartArchive,
  imageArchive,
  randomBytes,
  randomLayer,
  writeBundle,
} from "./fixtures/make_bundle.ts";

async function entries(root: string, tail = 0): Promise<BundleEntry[]> {
  return [
    { name: `${root}images/pause_3.10.tar`, data: await imageArchive([await randomLayer(64, 1)]) },
    {
      name: `${root}charts/k0rdent-enterprise_1.2.0.tar`,
      data: (await chartArchive("k0rdent-enterprise", "1.2.0")).archive,
    },
    ...(tail ? [{ name: `${root}images/zz-big_1.0.tar`, data: randomBytes(tail, 7) }] : []),
  ];
}

Deno.test("bundleK0rdentVersion() reads the chart's version from its file name, every format", async () => {
  await using dir = await tempDir();
  for (const format of ["tar.gz", "tar", "dir"] as BundleFormat[]) {
    for (const root of ["", "airgap-bundle-1.2.0/"]) {
      const path = join(dir.path, `b-${root ? "root" : "flat"}.${format}`);
      await writeBundle(path, await entries(root), format);
      const found = await bundleK0rdentVersion(path);
      assert.equal(found.tag, "1.2.0", `${format} ${root}`);
      assert.equal(found.path, `${root}charts/k0rdent-enterprise_1.2.0.tar`);
    }
  }
});

Deno.test("bundleK0rdentVersion() stops at the chart entry (a truncated tail is never read)", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "b.tar.gz");
  await writeBundle(path, await entries("airgap-bundle-1.2.0/", 16 << 20), "tar.gz");
  const size = (await Deno.stat(path)).size;
  await Deno.truncate(path, size - (1 << 20)); // a full read fails: unexpected end of gzip
  let read = 0;
  const found = await bundleK0rdentVersion(path, { onBytes: (n) => read += n });
  assert.equal(found.tag, "1.2.0");
  assert.ok(read < size / 2, `read ${read} of ${size} bytes`);
});

Deno.test("bundleK0rdentVersion() without a chart, and on a missing bundle", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "b.tar");
  await writeBundle(path, (await entries("")).slice(0, 1), "tar");
  assert.equal((await bundleK0rdentVersion(path)).tag, undefined);
  await assert.rejects(
    bundleK0rdentVersion(join(dir.path, "none.tar.gz")),
    (err: Error) =>
      err instanceof UserError && /Cannot read bundle ".*none\.tar\.gz": no such/.test(err.message),
  );
});

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "bundle-version-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

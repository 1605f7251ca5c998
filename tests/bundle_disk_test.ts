/**
 * Disk space: the preflight refuses a bundle larger than the storage's free space (with both
 * numbers), and a disk that fills up mid-load stops with one line and no tag. The storage is a
 * small tmpfs mounted by the test (root only; ignored otherwise, with the reason in the name).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { packTar } from "modern-tar";
import { loadBundle } from "../src/bundle/load.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import {
  blob,
  imageManifest,
  indexFor,
  makeBundle,
  MEDIA,
  ociArchive,
  writeBundle,
} from "./fixtures/make_bundle.ts";
import { needsRoot } from "./helpers/tools.ts";

const runner = new ProcessRunner();

async function withTmpfs(sizeMiB: number, fn: (dir: string, mnt: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "bundle-disk-" });
  const mnt = join(dir, "mnt");
  await Deno.mkdir(mnt);
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", mnt],
  }).output();
  assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
  try {
    await fn(dir, mnt);
  } finally {
    await new Deno.Command("umount", { args: [mnt] }).output();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  ...needsRoot(
    "bundle load preflight refuses a bundle larger than the free space, with the numbers",
    "to mount a tmpfs",
  ),
  fn: () =>
    withTmpfs(4, async (dir, mnt) => {
      const bundle = join(dir, "b.tar");
      await makeBundle(bundle, { images: 4, layerSize: 1024 * 1024, format: "tar" });
      await assert.rejects(
        loadBundle({ bundle, storage: join(mnt, "s"), prefix: "p", verify: "off", runner }),
        /Not enough free space in ".*mnt\/s" to load bundle ".*b\.tar": it may add up to [\d.]+ MiB, [\d.]+ MiB free/,
      );
    }),
});

Deno.test({
  ...needsRoot(
    "bundle load stops cleanly when the disk fills up mid-load: one line, no tag",
    "to mount a tmpfs",
  ),
  fn: () =>
    withTmpfs(4, async (dir, mnt) => {
      // Zero-filled layers: a tiny .tar.gz (so the preflight passes) that expands to 12 MiB.
      const archives = [];
      for (let i = 0; i < 3; i++) {
        const tar = await packTar([{
          header: { name: `zeros-${i}`, size: 4 * 1024 * 1024 },
          body: new Uint8Array(4 * 1024 * 1024).fill(i),
        }]);
        const layer = blob(MEDIA.layer, gzipSync(tar, { level: 0 }));
        const { manifest, config } = imageManifest([layer]);
        archives.push({
          name: `img-${i}_1.0.tar`,
          data: await ociArchive({ index: indexFor(manifest), blobs: [manifest, config, layer] }),
        });
      }
      const bundle = join(dir, "b.tar.gz");
      await writeBundle(bundle, archives, "tar.gz");
      assert.ok((await Deno.stat(bundle)).size < 1024 * 1024);
      const storage = join(mnt, "s");
      await assert.rejects(
        loadBundle({ bundle, storage, prefix: "p", verify: "off", runner }),
        (err: Error) => {
          assert.match(
            err.message,
            /^Cannot load bundle ".*b\.tar\.gz" into ".*mnt\/s": .*No space left/,
          );
          assert.ok(!err.message.includes("\n"));
          return true;
        },
      );
      assert.deepEqual(await openDiskStorage(storage).listRepositories(), []);
    }),
});

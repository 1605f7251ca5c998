/**
 * Disk space: the preflight refuses a bundle larger than the storage's free space (with both
 * numbers), and a load whose blobs expand beyond the bundle's size stops with a reserve left
 * free, one line, no upload left and no tag, in `bundle load` and in the daemon's background
 * load. The storage is a small tmpfs mounted by the test (root only; ignored otherwise).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { packTar } from "modern-tar";
import {
  diskSpace,
  FreeSpaceGuard,
  LowSpaceError,
  reserveBytes,
} from "../src/bundle/loading/free_space.ts";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { readLoadStatus } from "../src/bundle/loading/load_state.ts";
import { UserError } from "../src/errors.ts";
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
import { startDaemon } from "./registry_helpers.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

const runner = new ProcessRunner();
const MiB = 1024 * 1024;

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
        loadBundle({
          bundle,
          storage: openDiskStorage(join(mnt, "s")),
          prefix: "p",
          verify: "off",
          runner,
        }),
        /Not enough free space in ".*mnt\/s" to load bundle ".*b\.tar": it may add up to [\d.]+ MiB, [\d.]+ MiB free/,
      );
    }),
});

/** A small .tar.gz whose `count` images each have a layer of `mib` MiB of one byte value. */
async function expandingBundle(path: string, count: number, mib: number) {
  const archives = [];
  for (let i = 0; i < count; i++) {
    const tar = await packTar([{
      header: { name: `fill-${i}`, size: mib * MiB },
      body: new Uint8Array(mib * MiB).fill(i),
    }]);
    const layer = blob(MEDIA.layer, gzipSync(tar, { level: 0 }));
    const { manifest, config } = imageManifest([layer]);
    archives.push({
      name: `img-${i}_1.0.tar`,
      data: await ociArchive({ index: indexFor(manifest), blobs: [manifest, config, layer] }),
    });
  }
  await writeBundle(path, archives, "tar.gz");
  assert.ok((await Deno.stat(path)).size < MiB, "the preflight cannot see the expansion");
}

/** Blob files in the storage's content store and its uploads area. */
async function storedFiles(storage: string) {
  const list = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isDirectory) out.push(...await list(join(dir, e.name)));
        else out.push(e.name);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    return out;
  };
  return {
    blobs: await list(join(storage, "blobs")),
    uploads: await list(join(storage, "uploads")),
  };
}

const RESERVE_MESSAGE =
  /^Cannot load bundle ".*b\.tar\.gz" into ".*mnt\/s": stopped with [\d.]+ [KM]iB free to keep [\d.]+ [KM]iB free on its filesystem \(the next blob needs 6\.0 MiB, 5% of the filesystem up to 1 GiB is kept\); free some space or use --storage on a larger disk, then rerun to resume$/;

Deno.test({
  ...needsRoot(
    "bundle load stops before a blob that would take the reserve: one line, no upload, no tag",
    "to mount a tmpfs",
  ),
  fn: () =>
    withTmpfs(16, async (dir, mnt) => {
      // Three 6 MiB layers in a bundle of a few KiB: 18 MiB do not fit in 16 MiB.
      const bundle = join(dir, "b.tar.gz");
      await expandingBundle(bundle, 3, 6);
      const storage = join(mnt, "s");
      await assert.rejects(
        loadBundle({
          bundle,
          storage: openDiskStorage(storage),
          prefix: "p",
          verify: "off",
          runner,
        }),
        (err: Error) => {
          assert.ok(err instanceof UserError, String(err));
          assert.match(err.message, RESERVE_MESSAGE);
          return true;
        },
      );
      const { free, total } = await diskSpace(mnt);
      assert.ok(free >= reserveBytes(total), `only ${free} bytes left free`);
      const files = await storedFiles(storage);
      assert.deepEqual(files.uploads, [], "no upload left behind");
      assert.ok(files.blobs.length >= 2, "the first images were stored");
      assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "nothing tagged");
    }),
});

Deno.test({
  ...needsRoot(
    "free-space guard: claim() refuses what would take the reserve; other writers abort its signal",
    "to mount a tmpfs",
  ),
  fn: () =>
    withTmpfs(16, async (_dir, mnt) => {
      const guard = await FreeSpaceGuard.open(mnt, "Cannot load X");
      assert.ok(guard);
      try {
        assert.equal(guard.reserve, reserveBytes(16 * MiB));
        const { free } = await diskSpace(mnt);
        await guard.claim(free - guard.reserve);
        await assert.rejects(guard.claim(free - guard.reserve + 1), LowSpaceError);
        assert.equal(guard.signal.aborted, false);
        // Another writer leaves less than the reserve: the poll notices within a second.
        await Deno.writeFile(join(mnt, "filler"), new Uint8Array(free - guard.reserve + 4096));
        const deadline = Date.now() + 2000;
        while (!guard.signal.aborted && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(guard.signal.reason instanceof LowSpaceError, String(guard.signal.reason));
        assert.match(guard.signal.reason.message, /^Cannot load X: stopped with [\d.]+ KiB free/);
      } finally {
        guard.close();
      }
    }),
});

Deno.test({
  ...needsRoot(
    "registry --bundle-path: the background load stops with the reserve left, nothing tagged",
    "to mount a tmpfs",
  ),
  fn: () =>
    withTmpfs(16, async (dir, mnt) => {
      const bundle = join(dir, "b.tar.gz");
      await expandingBundle(bundle, 3, 6);
      await makeKeyPair(dir);
      await signBlob(dir, "b.tar.gz");
      const storage = join(mnt, "s");
      const daemon = await startDaemon([
        "--storage",
        storage,
        "--bundle-path",
        bundle,
        "--cosign-key",
        join(dir, "cosign.pub"),
      ]);
      try {
        let status: { state: string; error?: string } | undefined;
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          status = await readLoadStatus(openDiskStorage(storage).driver);
          if (status?.state === "complete" || status?.state === "failed") break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(status?.state, "failed", JSON.stringify(status) + daemon.stderr());
        assert.match(status?.error ?? "", RESERVE_MESSAGE);
        // The status file is written before the daemon logs the failure: wait for the line.
        const logged = /ERROR Bundle load failed: Cannot load bundle .* stopped with/;
        const logDeadline = Date.now() + 5_000;
        while (!logged.test(daemon.stderr()) && Date.now() < logDeadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(daemon.stderr(), logged);
        const v2 = await fetch(`http://127.0.0.1:${daemon.port}/v2/`);
        await v2.body?.cancel();
        assert.equal(v2.status, 200, "still serving");
      } finally {
        await daemon.stop();
      }
      const { free, total } = await diskSpace(mnt);
      assert.ok(free >= reserveBytes(total), `only ${free} bytes left free`);
      assert.deepEqual((await storedFiles(storage)).uploads, [], "no upload left behind");
      assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "nothing tagged");
    }),
});

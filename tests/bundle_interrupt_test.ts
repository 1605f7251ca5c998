/**
 * SIGTERM during `bundle load` (a CLI subprocess): the load stops within two seconds, even in
 * the middle of a blob that a few KiB of gzip inflate to hundreds of MiB, or on `/dev/zero`
 * (which never ends); it leaves no upload behind and no tag, and the journal lets a rerun resume.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import {
  blob,
  descriptor,
  indexFor,
  MEDIA,
  streamedDescriptor,
  streamedOciArchive,
  writeBundle,
  zerosBlob,
} from "./fixtures/make_bundle.ts";
import { type CliProcess, spawnCli } from "./helpers/cli.ts";

const MiB = 1024 * 1024;
const STOP_WITHIN_MS = 2000;

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function files(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
}

/**
 * Sends SIGTERM and returns the result with the milliseconds the process took to exit; a process
 * still running 10 s later is killed and the test fails.
 */
async function terminate(proc: CliProcess) {
  const sent = Date.now();
  proc.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), 10_000);
  });
  const res = await Promise.race([proc.result, late]);
  clearTimeout(timer);
  if (!res) {
    proc.kill("SIGKILL");
    await proc.result;
    assert.fail("still running 10 s after SIGTERM");
  }
  return { ...res, ms: Date.now() - sent };
}

Deno.test("bundle load: SIGTERM on /dev/zero (which never ends) stops it at once, exit 130", async () => {
  const storage = await Deno.makeTempDir({ prefix: "bundle-term-zero-" });
  try {
    let started = false;
    const proc = spawnCli(["bundle", "load", "/dev/zero", "--storage", storage, "--verify=false"]);
    // Reading has begun once the journal is written.
    await until("the load started", async () => {
      started = (await files(join(storage, "bundle", "loads"))).length > 0;
      return started;
    });
    await new Promise((r) => setTimeout(r, 300));
    const res = await terminate(proc);
    assert.equal(res.code, 130, res.stderr);
    assert.ok(res.ms < STOP_WITHIN_MS, `took ${res.ms} ms to stop`);
    assert.match(
      res.stderr,
      /Interrupted by SIGTERM: the load of "\/dev\/zero" stopped; rerun to resume/,
    );
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

Deno.test("bundle load: SIGTERM inside a 384 MiB blob of a 400 KiB .tar.gz stops within 2 s; the rerun resumes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-term-" });
  try {
    const zeros = await zerosBlob("application/vnd.oci.image.layer.v1.tar", 384 * MiB);
    const small = blob(MEDIA.layer, new Uint8Array(1000).fill(7));
    const config = blob(MEDIA.config, JSON.stringify({ architecture: "amd64", os: "linux" }));
    const manifest = blob(
      MEDIA.manifest,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: descriptor(config),
        layers: [descriptor(small), streamedDescriptor(zeros)],
      }),
    );
    const bundle = join(dir, "b.tar.gz");
    await writeBundle(bundle, [{
      name: "capi/zeros_1.0.tar",
      body: streamedOciArchive(indexFor(manifest), [manifest, config, small, zeros]),
    }], "tar.gz");
    const storage = join(dir, "storage");
    const proc = spawnCli([
      "bundle",
      "load",
      bundle,
      "--storage",
      storage,
      "--prefix",
      "p",
      "--verify=false",
    ]);
    // Stop while the big blob is being written: its upload has grown past 16 MiB.
    await until("the big blob is being written", async () => {
      for (const name of await files(join(storage, "uploads"))) {
        const size = await Deno.stat(join(storage, "uploads", name)).then((s) => s.size, () => 0);
        if (size > 16 * MiB) return true;
      }
      return false;
    });
    const res = await terminate(proc);
    assert.equal(res.code, 130, res.stderr);
    assert.ok(res.ms < STOP_WITHIN_MS, `took ${res.ms} ms to stop`);
    assert.match(
      res.stderr,
      /Interrupted by SIGTERM: the load of ".*b\.tar\.gz" stopped; rerun to resume/,
    );
    assert.deepEqual(await files(join(storage, "uploads")), [], "the partial upload is removed");
    assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "nothing tagged");
    const [journal] = await files(join(storage, "bundle", "loads"));
    const state = JSON.parse(await Deno.readTextFile(join(storage, "bundle", "loads", journal)));
    assert.equal(state.state, "loading");

    // The rerun resumes: the blobs stored before the signal (manifest, config and the small
    // layer come first in the archive) are read past, the rest is loaded.
    assert.ok(await openDiskStorage(storage).hasBlob(small.digest), "stored before the signal");
    const resumed = await loadBundle({
      bundle,
      storage: openDiskStorage(storage),
      prefix: "p",
      verify: "off",
      runner: new ProcessRunner(),
    });
    assert.equal(resumed.alreadyLoaded, false);
    assert.equal(resumed.blobsPresent, 3, "manifest, config and small layer read past");
    assert.equal(resumed.blobsStored, 1, "only the big layer is written");
    assert.deepEqual(await openDiskStorage(storage).listTags("p/zeros"), ["1.0"]);
    assert.ok(await openDiskStorage(storage).hasBlob(zeros.digest));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

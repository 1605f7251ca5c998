/**
 * `registry --bundle-path`: the daemon (a real subprocess with the serve permissions) answers
 * `/v2/` at once, loads the bundle in the background, and `registry status` shows the outcome;
 * then real skopeo reads an image from it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBundle } from "../src/bundle/loading/load.ts";
import { ProcessRunner } from "../src/process/runner.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import {
  imageArchive,
  imageManifest,
  indexFor,
  makeBundle,
  ociArchive,
  randomLayer,
  writeBundle,
} from "./fixtures/make_bundle.ts";
import { runRegistryCli, skopeo, startDaemon } from "./registry_helpers.ts";
import { needsTools } from "./helpers/tools.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

Deno.test(
  await needsTools(
    "registry --bundle-path serves at once, loads in the background, registry status reports it",
    "openssl",
    "skopeo",
  ),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-daemon-" });
    try {
      const bundle = join(dir, "b.tar.gz");
      const contents = await makeBundle(bundle, { images: 6, layerSize: 1024 * 1024 });
      await makeKeyPair(dir);
      await signBlob(dir, "b.tar.gz");
      const storage = join(dir, "storage");
      const daemon = await startDaemon([
        "--storage",
        storage,
        "--bundle-path",
        bundle,
        "--cosignKey",
        join(dir, "cosign.pub"),
      ]);
      try {
        const v2 = await fetch(`http://127.0.0.1:${daemon.port}/v2/`);
        await v2.body?.cancel();
        assert.equal(v2.status, 200);
        let status: { state: string; imagesTotal?: number; k0rdentVersion?: string } | null = null;
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const res = await runRegistryCli([
            "registry",
            "status",
            "--storage",
            storage,
            "--output",
            "json",
          ]);
          assert.equal(res.code, 0, res.stderr);
          status = JSON.parse(res.stdout);
          if (status && (status.state === "complete" || status.state === "failed")) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(status?.state, "complete", JSON.stringify(status) + daemon.stderr());
        assert.equal(status?.imagesTotal, contents.refs.size);
        assert.equal(status?.k0rdentVersion, "1.2.3");
        assert.match(daemon.stderr(), /Bundle ".*b\.tar\.gz" loaded: \d+ references/);
        const raw = await skopeo([
          "inspect",
          "--raw",
          "--tls-verify=false",
          `docker://127.0.0.1:${daemon.port}/k0rdent-enterprise/capi/image-0:v1.0.0`,
        ]);
        const digest = "sha256:" + Array.from(
          new Uint8Array(
            await crypto.subtle.digest("SHA-256", new TextEncoder().encode(raw.stdout)),
          ),
        ).map((b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(digest, contents.refs.get("capi/image-0:v1.0.0"));
        const text = await runRegistryCli(["registry", "status", "--storage", storage]);
        assert.match(text.stdout, /State:\s+complete/);
      } finally {
        await daemon.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("background load (tagEarly, no signature to wait for): each image is tagged as its archive completes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundle-early-" });
  try {
    const runner = new ProcessRunner();
    const good = await imageArchive([await randomLayer(1000, 1)]);
    // Vendor layout: the root is certain from the first file; the last archive is corrupt.
    const { manifest, config } = imageManifest([await randomLayer(1000, 2)]);
    const broken = await ociArchive({ index: indexFor(manifest), blobs: [manifest, config] });
    const bundle = join(dir, "b.tar");
    await writeBundle(bundle, [
      { name: "airgap-bundle-9/capi/ok_1.0.tar", data: good },
      { name: "airgap-bundle-9/capi/broken_1.0.tar", data: broken },
    ], "tar");
    const storage = join(dir, "s");
    await assert.rejects(
      loadBundle({
        bundle,
        storage: openDiskStorage(storage),
        prefix: "p",
        verify: "off",
        runner,
        tagEarly: true,
      }),
      /archive "airgap-bundle-9\/capi\/broken_1\.0\.tar" .*not in the archive/,
    );
    assert.deepEqual(await openDiskStorage(storage).listTags("p/capi/ok"), ["1.0"]);
    assert.equal(await openDiskStorage(storage).repositoryExists("p/capi/broken"), false);

    // The first file looked like the root, but a top-level file follows: early tags that the
    // whole pass does not confirm are removed, the right ones written.
    const odd = join(dir, "odd.tar");
    await writeBundle(odd, [
      { name: "airgap-bundle-9/capi/ok_1.0.tar", data: good },
      { name: "top_2.0.tar", data: good },
    ], "tar");
    const s2 = join(dir, "s2");
    await loadBundle({
      bundle: odd,
      storage: openDiskStorage(s2),
      prefix: "p",
      verify: "off",
      runner,
      tagEarly: true,
    });
    const st = openDiskStorage(s2);
    assert.deepEqual(await st.listTags("p/capi/ok"), []);
    assert.deepEqual(await st.listTags("p/airgap-bundle-9/capi/ok"), ["1.0"]);
    assert.deepEqual(await st.listTags("p/top"), ["2.0"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

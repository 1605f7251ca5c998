/**
 * `bundle load` on archives made by the real tools the vendor and users make them with: skopeo's
 * `oci-archive:` transport (tag in the file name, or only in `org.opencontainers.image.ref.name`:
 * containers/image oci/layout/oci_dest.go writes the reference part of `oci-archive:F:REF` there)
 * and containerd's exporter (`ctr images export`: `ref.name` is the object of the reference, which
 * for an image named by digest is `<tag>@sha256:...` or `@sha256:...`, containerd
 * images/archive/reference.go `ociReferenceName`). Each archive's tag must be the one meant,
 * pointing at the digest the tool wrote into index.json.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { packTar } from "modern-tar";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { runCli } from "./helpers/cli.ts";
import { startContainerd } from "./helpers/containerd_daemon.ts";
import { needsContainerd, needsTools } from "./helpers/tools.ts";

const enc = new TextEncoder();

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return "sha256:" + [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Writes a one-layer linux/amd64 OCI image layout at `dir`; returns its manifest digest. */
async function writeLayout(dir: string): Promise<string> {
  const layerTar = await packTar([{ header: { name: "hello", size: 3 }, body: "hi\n" }]);
  const layer = gzipSync(layerTar);
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    rootfs: { type: "layers", diff_ids: [await sha256(layerTar)] },
    config: {},
  }));
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: await sha256(config),
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: await sha256(layer),
      size: layer.length,
    }],
  }));
  await Deno.mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const blob of [layer, config, manifest]) {
    await Deno.writeFile(join(dir, "blobs", "sha256", (await sha256(blob)).slice(7)), blob);
  }
  const digest = await sha256(manifest);
  await Deno.writeTextFile(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest,
        size: manifest.length,
      }],
    }),
  );
  await Deno.writeTextFile(join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  return digest;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

/** The digest of the one image an archive's index.json names. */
async function topDigest(archive: string): Promise<string> {
  const out = await new Deno.Command("tar", { args: ["-xOf", archive, "index.json"] }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).manifests[0].digest;
}

async function load(bundle: string, storage: string) {
  return await runCli(["bundle", "load", bundle, "--storage", storage, "--verify=false"]);
}

Deno.test(
  await needsTools("bundle load: archives made by real skopeo get the tag meant", "skopeo"),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-real-" });
    try {
      await writeLayout(join(dir, "layout"));
      const bundle = join(dir, "bundle");
      await Deno.mkdir(join(bundle, "capi"), { recursive: true });
      await Deno.mkdir(join(bundle, "tools"), { recursive: true });
      const byName = join(bundle, "capi", "app_v1.0.tar");
      const byAnnotation = join(bundle, "tools", "named.tar");
      await run("skopeo", ["copy", "-q", `oci:${join(dir, "layout")}`, `oci-archive:${byName}`]);
      await run("skopeo", [
        "copy",
        "-q",
        `oci:${join(dir, "layout")}`,
        `oci-archive:${byAnnotation}:v2.0`,
      ]);
      const storage = join(dir, "storage");
      const res = await load(bundle, storage);
      assert.equal(res.code, 0, res.stderr);
      const s = openDiskStorage(storage);
      assert.equal(
        await s.resolveTag("k0rdent-enterprise/capi/app", "v1.0"),
        await topDigest(byName),
      );
      assert.equal(
        await s.resolveTag("k0rdent-enterprise/tools/named", "v2.0"),
        await topDigest(byAnnotation),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  await needsContainerd(
    "bundle load: a ctr export of an image named by digest takes its tag, never the digest",
  ),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "bundle-ctr-" });
    await Deno.mkdir(join(dir, "c"));
    const containerd = await startContainerd(join(dir, "c"), "version = 2\n").catch(
      async (err) => {
        await Deno.remove(dir, { recursive: true });
        throw err;
      },
    );
    const ctr = async (args: string[]) => {
      const out = await containerd.ctr(args);
      assert.equal(out.code, 0, `ctr ${args.join(" ")}: ${out.stderr}`);
      return out.stdout;
    };
    try {
      await writeLayout(join(dir, "layout"));
      const layoutTar = join(dir, "layout.tar");
      await run("tar", ["-C", join(dir, "layout"), "-cf", layoutTar, "."]);
      await ctr([
        "images",
        "import",
        "--no-unpack",
        "--index-name",
        "example.com/app:1.0",
        layoutTar,
      ]);
      const digest = (await ctr(["images", "ls"])).split("\n")[1].split(/\s+/)[2];
      assert.match(digest, /^sha256:[a-f0-9]{64}$/);
      await ctr(["images", "tag", "example.com/app:1.0", `example.com/app:2.0@${digest}`]);
      await ctr(["images", "tag", "example.com/app:1.0", `example.com/app@${digest}`]);

      const tagged = join(dir, "tagged");
      await Deno.mkdir(join(tagged, "ctr"), { recursive: true });
      // A top-level file: a lone top-level folder would be taken as the bundle root.
      await Deno.writeTextFile(join(tagged, "README.txt"), "test bundle\n");
      const archive = join(tagged, "ctr", "app.tar");
      await ctr([
        "images",
        "export",
        "--platform",
        "linux/amd64",
        archive,
        `example.com/app:2.0@${digest}`,
      ]);
      const storage = join(dir, "storage");
      const ok = await load(tagged, storage);
      assert.equal(ok.code, 0, ok.stderr);
      const s = openDiskStorage(storage);
      assert.equal(await s.resolveTag("k0rdent-enterprise/ctr/app", "2.0"), digest);
      assert.deepEqual(await s.listTags("k0rdent-enterprise/ctr/app"), ["2.0"]);

      const untagged = join(dir, "untagged");
      await Deno.mkdir(join(untagged, "ctr"), { recursive: true });
      await Deno.writeTextFile(join(untagged, "README.txt"), "test bundle\n");
      await ctr([
        "images",
        "export",
        "--platform",
        "linux/amd64",
        join(untagged, "ctr", "app.tar"),
        `example.com/app@${digest}`,
      ]);
      const bad = await load(untagged, join(dir, "storage2"));
      assert.equal(bad.code, 1, bad.stderr);
      assert.match(
        bad.stderr,
        /archive "ctr\/app\.tar": .*annotation "@sha256:[a-f0-9]{64}" names no tag/,
      );
    } finally {
      await containerd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

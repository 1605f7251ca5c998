/** The `--with-images` OCI archive: reference mapping and archive content from a real (memory) registry storage. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../src/errors.ts";
import { openMemoryStorage } from "../src/registry/storage/storage.ts";
import {
  ociArch,
  storageLocation,
  writeImagesArchive,
} from "../src/worker_artifacts/system_images.ts";
import { storeIndex, storeManifest } from "./helpers/store_image.ts";
import { startContainerd } from "./helpers/containerd_daemon.ts";
import { needsContainerd, needsTools } from "./helpers/tools.ts";

const REGISTRY = { address: "localhost:5000", prefix: "k0rdent-enterprise" };

Deno.test("storageLocation() maps k0s image references to the bundle's repositories", () => {
  const cases: [string, string, string][] = [
    ["quay.io/k0sproject/coredns:1.12.2", "k0rdent-enterprise/k0sproject/coredns", "1.12.2"],
    ["registry.k8s.io/pause:3.10", "k0rdent-enterprise/pause", "3.10"],
    [
      "localhost:5000/k0rdent-enterprise/k0sproject/kube-proxy:v1.32.8",
      "k0rdent-enterprise/k0sproject/kube-proxy",
      "v1.32.8",
    ],
    ["busybox:1.36", "k0rdent-enterprise/busybox", "1.36"],
    [`quay.io/a/b@sha256:${"a".repeat(64)}`, "k0rdent-enterprise/a/b", `sha256:${"a".repeat(64)}`],
  ];
  for (const [ref, repository, reference] of cases) {
    assert.deepEqual(storageLocation(ref, REGISTRY), { ref, repository, reference }, ref);
  }
  assert.equal(
    storageLocation("quay.io/k0sproject/coredns:1", { address: "r:5000", prefix: "" }).repository,
    "k0sproject/coredns",
  );
  assert.throws(() => storageLocation("quay.io/k0sproject/coredns", REGISTRY), UserError);
});

Deno.test(
  await needsTools(
    "writeImagesArchive() writes an OCI layout naming each image for containerd",
    "skopeo",
  ),
  async () => {
    const storage = openMemoryStorage();
    const coredns = await storeManifest(
      storage,
      "k0rdent-enterprise/k0sproject/coredns",
      "arm64",
      "1.12.2",
    );
    const pause = await storeIndex(storage, "k0rdent-enterprise/pause", "3.10");
    const dir = await Deno.makeTempDir();
    try {
      const target = join(dir, "images.tar");
      const images = ["quay.io/k0sproject/coredns:1.12.2", "registry.k8s.io/pause:3.10"]
        .map((r) => storageLocation(r, REGISTRY));
      const summary = await writeImagesArchive(storage, images, target, "arm64");
      assert.equal(summary.images, 2);
      assert.equal(summary.blobs, 6, "manifest, config and layer of each image");
      const list = await new Deno.Command("tar", { args: ["-tf", target] }).output();
      const names = new TextDecoder().decode(list.stdout).trim().split("\n").sort();
      const arm = pause.children.find((c) => c.arch === "arm64")!;
      const hex = (d: string) => `blobs/sha256/${d.slice(7)}`;
      assert.deepEqual(
        names,
        [
          hex(coredns.digest),
          hex(coredns.config.digest),
          hex(coredns.layer.digest),
          hex(arm.digest),
          hex(arm.config.digest),
          hex(arm.layer.digest),
          "index.json",
          "oci-layout",
        ].sort(),
      );
      const index = JSON.parse(new TextDecoder().decode(
        (await new Deno.Command("tar", { args: ["-xOf", target, "index.json"] }).output()).stdout,
      ));
      assert.deepEqual(
        index.manifests.map((m: { digest: string; annotations: Record<string, string> }) => [
          m.digest,
          m.annotations["io.containerd.image.name"],
        ]),
        [
          [coredns.digest, "quay.io/k0sproject/coredns:1.12.2"],
          [arm.digest, "registry.k8s.io/pause:3.10"],
        ],
      );
      // Real skopeo reads the archive and checks every blob's digest while copying.
      const copy = await new Deno.Command("skopeo", {
        args: ["copy", "-q", `oci-archive:${target}:3.10`, `dir:${join(dir, "out")}`],
        stderr: "piped",
      }).output();
      assert.equal(copy.code, 0, new TextDecoder().decode(copy.stderr));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("writeImagesArchive() lists every missing image and writes nothing", async () => {
  const storage = openMemoryStorage();
  await storeManifest(storage, "k0rdent-enterprise/k0sproject/coredns", "amd64", "1.12.2");
  const dir = await Deno.makeTempDir();
  try {
    const images = [
      "quay.io/k0sproject/coredns:1.12.2",
      "quay.io/k0sproject/kube-proxy:v1.32.8",
      "registry.k8s.io/pause:3.10",
    ].map((r) => storageLocation(r, REGISTRY));
    await assert.rejects(
      () => writeImagesArchive(storage, images, join(dir, "images.tar"), "arm64"),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /coredns:1\.12\.2 \(built for amd64, not arm64\)/);
        assert.match(
          err.message,
          /kube-proxy:v1\.32\.8 \(not in "k0rdent-enterprise\/k0sproject\/kube-proxy"\)/,
        );
        assert.match(err.message, /pause:3\.10/);
        return true;
      },
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  await needsContainerd(
    "writeImagesArchive(): a real containerd imports the archive under the names k0s lists",
  ),
  async () => {
    // k0s imports /var/lib/k0s/images/* with containerd's client.Import into namespace k8s.io
    // (k0s v1.32.8+k0s.0 pkg/component/worker/ocibundle.go); containerd names each image by the
    // io.containerd.image.name annotation of its index.json entry (containerd v1.7 import.go).
    const storage = openMemoryStorage();
    const registry = { address: "10.0.0.5:5000", prefix: "k0rdent-enterprise" };
    const arch = ociArch();
    await storeManifest(storage, "k0rdent-enterprise/k0sproject/coredns", arch, "1.12.2");
    await storeIndex(storage, "k0rdent-enterprise/pause", "3.9");
    const refs = [
      "10.0.0.5:5000/k0rdent-enterprise/k0sproject/coredns:1.12.2",
      "10.0.0.5:5000/k0rdent-enterprise/pause:3.9",
    ];
    const dir = await Deno.makeTempDir();
    const containerd = await startContainerd(dir, "version = 2\n");
    try {
      const target = join(dir, "images.tar");
      await writeImagesArchive(storage, refs.map((r) => storageLocation(r, registry)), target);
      // The layers are random bytes, not tarballs: import without unpacking, as k0s does.
      const imported = await containerd.ctr([
        "-n",
        "k8s.io",
        "images",
        "import",
        "--no-unpack",
        target,
      ]);
      assert.equal(imported.code, 0, imported.stderr);
      const list = await containerd.ctr(["-n", "k8s.io", "images", "ls", "-q"]);
      assert.equal(list.code, 0, list.stderr);
      const names = list.stdout.trim().split("\n").filter((n) => !n.startsWith("sha256:"));
      assert.deepEqual(names.sort(), [...refs].sort());
    } finally {
      await containerd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

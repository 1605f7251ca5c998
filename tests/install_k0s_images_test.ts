/**
 * The `k0s-images` preflight end to end: `main.ts install --airgap` as a subprocess under a temp
 * root with the fake k0s (`tests/fakes/k0s`, which lists the images of k0s v1.32.8 like the real
 * one), against the registry's own HTTP app on a real socket over a memory storage.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MANIFEST_ACCEPT } from "../src/install/registry_probe.ts";
import { openMemoryStorage, type RegistryStorage } from "../src/registry/storage/storage.ts";
import { FAKE_K0S_IMAGES, FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { serveRegistry } from "./helpers/registry_server.ts";
import { needsTools } from "./helpers/tools.ts";
import { ADVERTISE_IP } from "./helpers/airgap_registry.ts";
import { storeChart, storeIndex, storeManifest } from "./helpers/store_image.ts";

/** Stores the k0rdent chart 1.2.0 and `images` (`<path>:<tag>`) under `prefix`. */
async function seed(storage: RegistryStorage, prefix: string, images: readonly string[]) {
  await storeChart(storage, `${prefix}/charts/k0rdent-enterprise`, "k0rdent-enterprise", "1.2.0");
  for (const image of images) {
    const at = image.lastIndexOf(":");
    const repository = `${prefix}/${image.slice(0, at)}`;
    // pause is a multi-arch index upstream: found only when the HEAD accepts indexes.
    if (repository.endsWith("/pause")) await storeIndex(storage, repository, image.slice(at + 1));
    else await storeManifest(storage, repository, "amd64", image.slice(at + 1));
  }
}

/** The address install gives pods for the registry at `address`: {@link ADVERTISE_IP}, same port. */
function advertised(address: string): string {
  return `${ADVERTISE_IP}:${address.split(":")[1]}`;
}

function args(address: string, ...extra: string[]): string[] {
  return [
    "install",
    "--poll-interval",
    "20ms",
    "--airgap",
    "--k0s-binary",
    join(FAKES_DIR, "k0s"),
    "--registry-address",
    address,
    "--registry-advertise-address",
    ADVERTISE_IP,
    // The registry app is served over plain HTTP here.
    "--registry-insecure",
    "--ignore-preflight-errors=root,ports",
    ...extra,
  ];
}

Deno.test(
  await needsTools(
    "preflight k0s-images: every listed image in the registry passes; temp files are removed",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const storage = openMemoryStorage();
    await seed(storage, "k0rdent-enterprise", FAKE_K0S_IMAGES);
    await using registry = serveRegistry(storage);
    const tmp = join(host.dir, "tmp");
    await Deno.mkdir(tmp);

    const result = await host.run([...args(registry.address), "--dry-run"], { TMPDIR: tmp });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /k0s-images/);
    const heads = registry.requests.filter((r) => r.method === "HEAD");
    assert.equal(FAKE_K0S_IMAGES.length, 10);
    assert.deepStrictEqual(
      heads.map((r) => r.path).sort(),
      FAKE_K0S_IMAGES.map((image) => {
        const at = image.lastIndexOf(":");
        return `/v2/k0rdent-enterprise/${image.slice(0, at)}/manifests/${image.slice(at + 1)}`;
      }).sort(),
    );
    assert.ok(heads.every((r) => r.accept === MANIFEST_ACCEPT && r.status === 200));
    // k0s listed with a k0s.yaml in a private temp dir, removed afterwards; the host is untouched.
    const listed = (await host.calls()).find((c) => c.startsWith("k0s airgap list-images"));
    assert.match(listed ?? "", new RegExp(`^k0s airgap list-images -c ${tmp}/[^ ]+/k0s\\.yaml$`));
    assert.deepStrictEqual(await Array.fromAsync(Deno.readDir(tmp)), []);
    assert.deepStrictEqual([...(await host.files()).keys()], []);
    assert.deepStrictEqual(await host.mutatingCalls(), []);

    // A k0s that cannot list its images is named, with what it said.
    await host.inject("k0s-airgap");
    const broken = await host.run([...args(registry.address), "--dry-run"], { TMPDIR: tmp });
    assert.equal(broken.code, 1, broken.stderr);
    assert.match(
      broken.stderr,
      new RegExp(
        `Preflight k0s-images: Cannot list the images of k0s v1\\.32\\.8\\+k0s\\.0 "${
          join(FAKES_DIR, "k0s")
        }": .*fake failure injected at k0s-airgap`,
      ),
    );
    assert.deepStrictEqual(await Array.fromAsync(Deno.readDir(tmp)), []);
  },
);

Deno.test(
  await needsTools(
    "preflight k0s-images: missing images fail before the host changes; ignored, they warn",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const storage = openMemoryStorage();
    // The bundle of another k0s: kube-proxy of v1.32.6, and no pause.
    const present = FAKE_K0S_IMAGES.filter((i) => !/^(k0sproject\/kube-proxy|pause):/.test(i));
    await seed(storage, "k0rdent-enterprise", [...present, "k0sproject/kube-proxy:v1.32.6"]);
    await using registry = serveRegistry(storage);
    // k0s.yaml names the images after the advertised address (what pods and nodes use).
    const base = `${advertised(registry.address)}/k0rdent-enterprise`;

    const failed = await host.run(args(registry.address));
    assert.equal(failed.code, 1, failed.stderr);
    const line = failed.stderr.split("\n").find((l) => l.includes("Preflight k0s-images:")) ?? "";
    const listed = /images are missing from the registry: (.*?) \(it holds/.exec(line)?.[1];
    assert.deepStrictEqual(listed?.split(", ").sort(), [
      `${base}/k0sproject/kube-proxy:v1.32.8`,
      `${base}/pause:3.9`,
    ]);
    assert.match(line, /2 of 10 k0s v1\.32\.8\+k0s\.0 images are missing/);
    assert.match(line, /holds k0rdent-enterprise\/k0sproject\/kube-proxy:v1\.32\.6\)/);
    assert.match(line, /the bundle carries the k0s images of k0s v1\.32\.6: install that k0s/);
    assert.match(failed.stderr, /--ignore-preflight-errors=k0s-images/);
    assert.deepStrictEqual([...(await host.files()).keys()], [], "no k0s binary, no k0s.yaml");
    assert.deepStrictEqual(await host.mutatingCalls(), []);

    const ignored = await host.run(args(registry.address, "--ignore-preflight-errors=k0s-images"));
    assert.equal(ignored.code, 0, ignored.stderr);
    assert.match(ignored.stderr, /WARN {2}Preflight k0s-images \(ignored\): 2 of 10 k0s/);
    const files = await host.files();
    assert.ok(files.has("usr/local/bin/k0s") && files.has("etc/k0s/k0s.yaml"));
  },
);

Deno.test(
  await needsTools(
    "preflight k0s-images: with k0s running, a rerun under a new registry prefix maps the running config's names",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const storage = openMemoryStorage();
    await seed(storage, "k0rdent-enterprise", FAKE_K0S_IMAGES);
    await seed(storage, "other", FAKE_K0S_IMAGES);
    await using registry = serveRegistry(storage);
    assert.equal((await host.run(args(registry.address))).code, 0);
    registry.requests.length = 0;
    await host.clearCalls();

    // k0s runs on k0s.yaml naming <address>/k0rdent-enterprise: it lists those names, whatever -c says.
    const rerun = await host.run(args(registry.address, "--registry-prefix", "other"));
    assert.equal(rerun.code, 0, rerun.stderr);
    const heads = registry.requests.filter((r) => r.method === "HEAD");
    assert.equal(heads.length, 10);
    assert.ok(heads.every((r) => r.path.startsWith("/v2/other/") && r.status === 200));
    const k0sYaml = await Deno.readTextFile(join(host.root, "etc/k0s/k0s.yaml"));
    assert.match(k0sYaml, new RegExp(`repository: ${advertised(registry.address)}/other\\n`));
    const restarted = await host.mutatingCalls();
    assert.ok(
      restarted.includes("k0s stop") && restarted.includes("k0s start"),
      restarted.join("\n"),
    );
  },
);

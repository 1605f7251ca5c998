// The containerd mirror files against the project's own registry (in-process Hono app on the
// memory storage): images pushed under the `k0rdent-enterprise/` prefix, as the bundle loader
// does, must be found by the URLs containerd derives from each hosts.toml for the upstream
// names (including containerd's `?ns=` query). containerd is modelled here by
// tests/helpers/containerd_resolver.ts, which covers all default mirrors quickly;
// tests/containerd_real_pull_test.ts checks that model against a real containerd.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createRegistryApp } from "../src/registry/http/app.ts";
import type { ConnInfo } from "../src/registry/http/context.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { openMemoryStorage } from "../src/registry/storage/storage.ts";
import { containerdMirrorFiles, type GeneratedFile } from "../src/k0s/containerd_mirrors.ts";
import { DEFAULT_MIRRORS } from "../src/config/defaults.ts";
import { registryURLs, splitImage } from "./helpers/containerd_resolver.ts";

const LOCAL: ConnInfo = { remoteAddr: { hostname: "127.0.0.1" } };
const ADDRESS = "10.0.0.5:5000";
const PREFIX = "k0rdent-enterprise";
const enc = new TextEncoder();

function digest(data: string): string {
  return "sha256:" + createHash("sha256").update(enc.encode(data)).digest("hex");
}

function setup() {
  const app = createRegistryApp({ storage: openMemoryStorage() });
  const req = (path: string, init: RequestInit = {}) => app.request(path, init, LOCAL);
  const push = async (repo: string, tag: string) => {
    const blobs = [`{"image":"${repo}:${tag}"}`, `layer ${repo}:${tag}`];
    for (const data of blobs) {
      const res = await req(`/v2/${repo}/blobs/uploads/?digest=${digest(data)}`, {
        method: "POST",
        body: data,
      });
      assert.equal(res.status, 201, await res.text());
    }
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digest(blobs[0]),
        size: blobs[0].length,
      },
      layers: [{
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: digest(blobs[1]),
        size: blobs[1].length,
      }],
    });
    const res = await req(`/v2/${repo}/manifests/${tag}`, {
      method: "PUT",
      headers: { "Content-Type": MEDIA_TYPES.ociManifest },
      body: manifest,
    });
    assert.equal(res.status, 201, await res.text());
    return digest(blobs[1]);
  };
  /** Status of a URL that points at our registry (scheme and host are checked, not dialled). */
  const status = async (url: string, method = "HEAD") => {
    const u = new URL(url);
    assert.equal(u.host, ADDRESS, url);
    const res = await req(u.pathname + u.search, {
      method,
      headers: { Accept: MEDIA_TYPES.ociManifest },
    });
    await res.body?.cancel();
    return res.status;
  };
  return { push, status };
}

function files(over: { prefix?: string } = {}): GeneratedFile[] {
  return containerdMirrorFiles({
    k0sVersion: "v1.32.8+k0s.0",
    registry: { address: ADDRESS, prefix: over.prefix ?? PREFIX, insecure: true },
    mirrors: DEFAULT_MIRRORS,
    caPem: "",
    upstreamFallback: false,
  });
}

/** Upstream image -> where the bundle loader puts it (`<prefix>/<bundle path>`). */
const IMAGES: [string, string][] = [
  ["quay.io/k0sproject/coredns:1.12.2", `${PREFIX}/k0sproject/coredns:1.12.2`],
  [
    "quay.io/jetstack/cert-manager-controller:v1.18.2",
    `${PREFIX}/jetstack/cert-manager-controller:v1.18.2`,
  ],
  ["ghcr.io/fluxcd/helm-controller:v1.3.0", `${PREFIX}/fluxcd/helm-controller:v1.3.0`],
  ["registry.k8s.io/pause:3.10", `${PREFIX}/pause:3.10`],
  ["docker.io/velero/velero:v1.16.1", `${PREFIX}/velero/velero:v1.16.1`],
  [
    "registry.mirantis.com/k0rdent-enterprise/kcm-controller:1.2.3",
    `${PREFIX}/kcm-controller:1.2.3`,
  ],
  [`${ADDRESS}/${PREFIX}/k0sproject/k0s:v1.32.8-k0s.0`, `${PREFIX}/k0sproject/k0s:v1.32.8-k0s.0`],
];

Deno.test("containerd mirrors: every upstream name resolves in the registry, blobs too", async () => {
  const { push, status } = setup();
  const generated = files();
  for (const [upstream, local] of IMAGES) {
    const { repository, tag } = splitImage(`${ADDRESS}/${local}`);
    const layer = await push(repository, tag);
    const manifestStatuses = await Promise.all(
      registryURLs(generated, upstream).map((u) => status(u)),
    );
    assert.ok(manifestStatuses.includes(200), `${upstream}: ${manifestStatuses}`);
    // The first URL that finds the manifest also serves the blobs.
    const hit = manifestStatuses.indexOf(200);
    const blobUrl = registryURLs(generated, upstream, "blobs", layer)[hit];
    assert.equal(await status(blobUrl, "GET"), 200, blobUrl);
  }
});

Deno.test("containerd mirrors: the common names hit on the first try", async () => {
  const { push, status } = setup();
  const generated = files();
  for (const [upstream, local] of IMAGES) {
    const { repository, tag } = splitImage(`${ADDRESS}/${local}`);
    await push(repository, tag);
    assert.equal(await status(registryURLs(generated, upstream)[0]), 200, upstream);
  }
});

Deno.test("containerd mirrors: without override_path the same mirror would 404", async () => {
  const { push, status } = setup();
  await push(`${PREFIX}/k0sproject/coredns`, "1.12.2");
  const broken = files().map((f) => ({
    ...f,
    content: f.content.replaceAll("override_path = true", "override_path = false"),
  }));
  for (const url of registryURLs(broken, "quay.io/k0sproject/coredns:1.12.2")) {
    assert.equal(await status(url), 404, url);
  }
});

Deno.test("containerd mirrors: a missing image is a 404 from the registry, not an upstream", async () => {
  const { status } = setup();
  const urls = registryURLs(files(), "quay.io/k0sproject/absent:1");
  assert.ok(urls.every((u) => new URL(u).host === ADDRESS), urls.join(" "));
  for (const url of urls) assert.equal(await status(url), 404, url);
});

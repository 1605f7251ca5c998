import assert from "node:assert/strict";
import type { RegistryEndpoint } from "../airgap_registry/endpoint.ts";
import {
  bundledK0sVersions,
  describeK0sImages,
  type K0sImagesFindings,
  registryLocation,
} from "./k0s_images.ts";

/** This host reaches the registry on loopback; k0s.yaml names it by the node's address. */
const LOCAL: RegistryEndpoint = {
  address: "127.0.0.1:5000",
  prefix: "k0rdent-enterprise",
  insecure: true,
};

Deno.test("registryLocation() maps a k0s image under k0s.yaml's repository to this host's registry", () => {
  const cases: [string, string, RegistryEndpoint, string | null][] = [
    // k0s.yaml names a routable address; this host asks its own local one.
    [
      "10.0.0.5:5000/k0rdent-enterprise/k0sproject/kube-proxy:v1.32.8",
      "10.0.0.5:5000/k0rdent-enterprise",
      LOCAL,
      "http://127.0.0.1:5000/v2/k0rdent-enterprise/k0sproject/kube-proxy/manifests/v1.32.8",
    ],
    // pause and metrics-server lose registry.k8s.io to the repository the same way.
    [
      "10.0.0.5:5000/k0rdent-enterprise/pause:3.9",
      "10.0.0.5:5000/k0rdent-enterprise",
      LOCAL,
      "http://127.0.0.1:5000/v2/k0rdent-enterprise/pause/manifests/3.9",
    ],
    // The same address, over TLS, a trailing slash in the repository.
    [
      "registry.local:5443/ke/metrics-server/metrics-server:v0.7.2",
      "registry.local:5443/ke/",
      { address: "registry.local:5443", prefix: "ke", insecure: false },
      "https://registry.local:5443/v2/ke/metrics-server/metrics-server/manifests/v0.7.2",
    ],
    // No prefix: the path after the address is the repository.
    [
      "node:5000/k0sproject/coredns:1.12.2",
      "node:5000",
      { address: "localhost:5000", prefix: "", insecure: true },
      "http://localhost:5000/v2/k0sproject/coredns/manifests/1.12.2",
    ],
    // A digest wins over the tag.
    [
      `r:5000/p/k0sproject/coredns:1.12.2@sha256:${"a".repeat(64)}`,
      "r:5000/p",
      { address: "r:5000", prefix: "p", insecure: true },
      `http://r:5000/v2/p/k0sproject/coredns/manifests/sha256:${"a".repeat(64)}`,
    ],
    // Not under the repository (another registry, a look-alike prefix): not served.
    [
      "quay.io/k0sproject/envoy-distroless:v1.31.10",
      "10.0.0.5:5000/k0rdent-enterprise",
      LOCAL,
      null,
    ],
    [
      "10.0.0.5:5000/k0rdent-enterprise2/pause:3.9",
      "10.0.0.5:5000/k0rdent-enterprise",
      LOCAL,
      null,
    ],
    // Neither tag nor digest.
    ["10.0.0.5:5000/k0rdent-enterprise/pause", "10.0.0.5:5000/k0rdent-enterprise", LOCAL, null],
  ];
  for (const [image, repository, endpoint, url] of cases) {
    assert.equal(registryLocation(image, repository, endpoint)?.url ?? null, url, image);
  }
  assert.deepStrictEqual(
    registryLocation("n:5000/ke/k0sproject/kube-proxy:v1.32.8", "n:5000/ke", LOCAL),
    {
      repository: "k0rdent-enterprise/k0sproject/kube-proxy",
      reference: "v1.32.8",
      url: "http://127.0.0.1:5000/v2/k0rdent-enterprise/k0sproject/kube-proxy/manifests/v1.32.8",
    },
    "the prefix of this host's endpoint, not the one in k0s.yaml",
  );
});

const BASE: K0sImagesFindings = {
  version: "v1.32.8+k0s.0",
  repository: "10.0.0.5:5000/ke",
  total: 10,
  missing: [],
  outside: [],
  unchecked: [],
};

Deno.test("describeK0sImages() is null when the registry holds every image", () => {
  assert.equal(describeK0sImages(BASE), null);
});

Deno.test("describeK0sImages() lists every missing image and tells the bundle's k0s version by kube-proxy's tag", () => {
  const text = describeK0sImages({
    ...BASE,
    missing: [
      {
        image: "10.0.0.5:5000/ke/k0sproject/kube-proxy:v1.32.8",
        repository: "ke/k0sproject/kube-proxy",
        otherTags: ["v1.32.6"],
      },
      { image: "10.0.0.5:5000/ke/pause:3.9", repository: "ke/pause", otherTags: [] },
    ],
  });
  assert.equal(
    text,
    "2 of 10 k0s v1.32.8+k0s.0 images are missing from the registry: " +
      "10.0.0.5:5000/ke/k0sproject/kube-proxy:v1.32.8, 10.0.0.5:5000/ke/pause:3.9 " +
      "(it holds ke/k0sproject/kube-proxy:v1.32.6); the bundle carries the k0s images of " +
      "k0s v1.32.6: install that k0s (--k0s-binary PATH to k0s v1.32.6+k0s.N, which " +
      "Enterprise ships beside its bundle)",
  );
});

Deno.test("describeK0sImages() names images outside the repository and registry errors once", () => {
  const text = describeK0sImages({
    ...BASE,
    outside: ["quay.io/k0sproject/envoy-distroless:v1.31.10"],
    unchecked: [
      { image: "a", error: "HTTP 401" },
      { image: "b", error: "HTTP 401" },
    ],
  });
  assert.equal(
    text,
    '1 k0s v1.32.8+k0s.0 image(s) are not under "10.0.0.5:5000/ke", so the registry does not ' +
      "serve them: quay.io/k0sproject/envoy-distroless:v1.31.10; cannot ask the registry for " +
      "2 image(s): HTTP 401",
  );
  assert.match(
    describeK0sImages({
      ...BASE,
      unchecked: [{ image: "a", error: "HTTP 401" }, { image: "b", error: "HTTP 500" }],
    })!,
    /cannot ask the registry for a \(HTTP 401\), b \(HTTP 500\)$/,
  );
});

Deno.test("bundledK0sVersions() reads only kube-proxy's Kubernetes-version tags", () => {
  const missing = (repository: string, otherTags: string[]) => [
    { image: "x", repository, otherTags },
  ];
  assert.deepStrictEqual(
    bundledK0sVersions(missing("ke/k0sproject/kube-proxy", ["v1.32.6", "latest"])),
    ["v1.32.6"],
  );
  assert.deepStrictEqual(bundledK0sVersions(missing("kube-proxy", ["v1.32.5"])), ["v1.32.5"]);
  assert.deepStrictEqual(bundledK0sVersions(missing("ke/k0sproject/coredns", ["v1.32.6"])), []);
  assert.deepStrictEqual(bundledK0sVersions(missing("ke/not-kube-proxy", ["v1.32.6"])), []);
});

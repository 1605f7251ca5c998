/** Stores small images (single-platform or multi-arch index) in a registry storage for tests. */
import { digestOf } from "../../src/registry/digest.ts";
import { MEDIA_TYPES } from "../../src/registry/manifest.ts";
import type { RegistryStorage } from "../../src/registry/storage/storage.ts";

const enc = new TextEncoder();

async function blob(storage: RegistryStorage, repo: string, bytes: Uint8Array) {
  const info = await storage.putBlob(bytes);
  await storage.linkBlob(repo, info.digest);
  return { mediaType: "", digest: info.digest, size: info.size };
}

/** Stores a one-layer linux/`arch` image manifest; returns its descriptor. */
export async function storeManifest(
  storage: RegistryStorage,
  repo: string,
  arch: string,
  reference?: string,
) {
  const config = await blob(
    storage,
    repo,
    enc.encode(JSON.stringify({
      architecture: arch,
      os: "linux",
      config: { Labels: { repo } },
      rootfs: { type: "layers" },
    })),
  );
  const layer = await blob(storage, repo, crypto.getRandomValues(new Uint8Array(2048)));
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { ...config, mediaType: "application/vnd.oci.image.config.v1+json" },
    layers: [{ ...layer, mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }],
  }));
  const { digest } = await storage.putManifest(repo, bytes, {
    reference,
    contentType: MEDIA_TYPES.ociManifest,
  });
  return { mediaType: MEDIA_TYPES.ociManifest, digest, size: bytes.length, config, layer };
}

/** Stores an index over amd64 and arm64 images under `tag`; returns the child descriptors. */
export async function storeIndex(storage: RegistryStorage, repo: string, tag: string) {
  const children = [];
  for (const arch of ["amd64", "arm64"]) {
    const m = await storeManifest(storage, repo, arch);
    children.push({ arch, ...m });
  }
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: children.map((c) => ({
      mediaType: c.mediaType,
      digest: c.digest,
      size: c.size,
      platform: { os: "linux", architecture: c.arch },
    })),
  }));
  await storage.putManifest(repo, bytes, { reference: tag, contentType: MEDIA_TYPES.ociIndex });
  return { index: digestOf(bytes), children };
}

/**
 * Stores a Helm chart artifact as `helm push` does (config `application/vnd.cncf.helm.config.v1+json`
 * with the Chart.yaml fields, one chart-content layer: `layerBytes` or random bytes) under the
 * tag `version` (`+` as `_`).
 */
export async function storeChart(
  storage: RegistryStorage,
  repo: string,
  name: string,
  version: string,
  layerBytes?: Uint8Array,
) {
  const config = await blob(
    storage,
    repo,
    enc.encode(JSON.stringify({ apiVersion: "v2", name, version, appVersion: version })),
  );
  const layer = await blob(
    storage,
    repo,
    layerBytes ?? crypto.getRandomValues(new Uint8Array(512)),
  );
  const bytes = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { ...config, mediaType: "application/vnd.cncf.helm.config.v1+json" },
    layers: [{ ...layer, mediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip" }],
  }));
  await storage.putManifest(repo, bytes, {
    reference: version.replaceAll("+", "_"),
    contentType: MEDIA_TYPES.ociManifest,
  });
}

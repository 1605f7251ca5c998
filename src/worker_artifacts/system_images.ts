/**
 * `--with-images`: the k0s system images (as `k0s airgap list-images` names them) read from the
 * registry storage and written as one uncompressed OCI archive for `/var/lib/k0s/images/`, which
 * a k0s worker imports into containerd when it starts. Each image is stored for one platform
 * and named by the `io.containerd.image.name` annotation with the exact reference k0s uses.
 */
import { UserError } from "../errors.ts";
import { writeTarAtomic } from "../fsx/atomic_tar.ts";
import { type Descriptor, MEDIA_TYPES } from "../registry/manifest.ts";
import { splitImageReference } from "../registry/names.ts";
import type { RegistryStorage } from "../registry/storage/storage.ts";

/** A system image and where the registry storage holds it. */
export interface SystemImage {
  /** The reference as k0s lists it, e.g. `quay.io/k0sproject/coredns:1.12.2`. */
  ref: string;
  /** Repository in the storage, e.g. `k0rdent-enterprise/k0sproject/coredns`. */
  repository: string;
  /** Tag or digest. */
  reference: string;
}

/**
 * Maps an image reference to the storage: an image already named after the local registry
 * (`<address>/<repo>`) is `<repo>`; any other registry's `<host>/<path>` is `<prefix>/<path>`
 * (how the bundle was pushed).
 */
export function storageLocation(
  ref: string,
  registry: { address: string; prefix: string },
): SystemImage {
  const { name, tag, digest } = splitImageReference(ref) ?? { name: "" };
  if (!tag && !digest) {
    throw new UserError(`Cannot bundle image "${ref}": expected a reference with a tag or digest`);
  }
  const parts = name.split("/");
  const hasHost = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]);
  const host = hasHost ? parts[0] : "docker.io";
  const path = (hasHost ? parts.slice(1) : parts).join("/");
  const prefix = registry.prefix.replace(/^\/+|\/+$/g, "");
  const repository = host === registry.address || !prefix ? path : `${prefix}/${path}`;
  return { ref, repository, reference: digest ?? tag! };
}

/** Deno's CPU architecture in OCI terms. */
export function ociArch(arch: string = Deno.build.arch): string {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? arch;
}

const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];

/** The `architecture` of an image config blob, when it says. */
async function configArch(storage: RegistryStorage, digest: string): Promise<string | undefined> {
  const blob = await storage.openBlob(digest);
  if (!blob) return undefined;
  try {
    const config = JSON.parse(await new Response(blob.stream).text()) as { architecture?: unknown };
    return typeof config.architecture === "string" ? config.architecture : undefined;
  } catch {
    return undefined;
  }
}

interface Resolved {
  image: SystemImage;
  manifest: Descriptor;
  blobs: string[];
}

async function resolve(
  storage: RegistryStorage,
  image: SystemImage,
  arch: string,
): Promise<Resolved | string> {
  let stored = await storage.getManifest(image.repository, image.reference);
  if (!stored) return `${image.ref} (not in "${image.repository}")`;
  if (INDEX_TYPES.includes(stored.mediaType)) {
    const index = JSON.parse(new TextDecoder().decode(stored.bytes)) as {
      manifests?: (Descriptor & { platform?: { os?: string; architecture?: string } })[];
    };
    const child = index.manifests?.find((d) =>
      d.platform?.os === "linux" && d.platform?.architecture === arch
    );
    if (!child) return `${image.ref} (no linux/${arch} image)`;
    stored = await storage.getManifest(image.repository, child.digest);
    if (!stored) return `${image.ref} (linux/${arch} manifest missing)`;
  }
  const body = JSON.parse(new TextDecoder().decode(stored.bytes)) as {
    config?: Descriptor;
    layers?: Descriptor[];
  };
  if (!body.config) return `${image.ref} (a manifest without config)`;
  const built = await configArch(storage, body.config.digest);
  if (built && built !== arch) return `${image.ref} (built for ${built}, not ${arch})`;
  const blobs = [body.config, ...(body.layers ?? [])].map((d) => d.digest);
  return {
    image,
    manifest: { mediaType: stored.mediaType, digest: stored.digest, size: stored.bytes.length },
    blobs: [stored.digest, ...blobs],
  };
}

/** What went into the archive. */
export interface ImagesArchiveSummary {
  images: number;
  blobs: number;
  bytes: number;
}

/**
 * Writes the OCI archive of `images` to `target` (atomically). Every image must be in the
 * storage for linux/`arch`; otherwise a UserError lists the missing ones and nothing is written.
 */
export async function writeImagesArchive(
  storage: RegistryStorage,
  images: readonly SystemImage[],
  target: string,
  arch: string = ociArch(),
): Promise<ImagesArchiveSummary> {
  const resolved: Resolved[] = [];
  const missing: string[] = [];
  for (const image of images) {
    const r = await resolve(storage, image, arch);
    if (typeof r === "string") missing.push(r);
    else resolved.push(r);
  }
  if (missing.length) {
    throw new UserError(
      `Cannot bundle the k0s system images: the registry storage lacks ${missing.join(", ")}`,
    );
  }
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: resolved.map((r) => ({
      ...r.manifest,
      annotations: {
        "io.containerd.image.name": r.image.ref,
        "org.opencontainers.image.ref.name": r.image.reference,
      },
    })),
  };
  const blobs = [...new Set(resolved.flatMap((r) => r.blobs))];
  const enc = new TextEncoder();
  let bytes = 0;
  await writeTarAtomic(target, async (controller) => {
    const small = async (name: string, text: string) => {
      const bytes = enc.encode(text);
      const w = controller.add({ name, size: bytes.length, mode: 0o644 }).getWriter();
      await w.write(bytes);
      await w.close();
    };
    await small("oci-layout", JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    await small("index.json", JSON.stringify(index));
    for (const digest of blobs) {
      const blob = await storage.openBlob(digest);
      if (!blob) {
        throw new UserError(`Cannot bundle the k0s system images: blob ${digest} is missing`);
      }
      bytes += blob.size;
      await blob.stream.pipeTo(
        controller.add({ name: `blobs/${digest.replace(":", "/")}`, size: blob.size, mode: 0o644 }),
      );
    }
  }, { mode: 0o644 });
  return { images: resolved.length, blobs: blobs.length, bytes };
}

/**
 * Reads one OCI archive (a tar of an OCI image layout) from a stream, in whatever entry
 * order it comes: every blob goes to a {@link BlobSink} as it streams by (stored and hashed,
 * or only hashed), small blobs are kept in memory, and once the archive ends `index.json` is
 * walked: every manifest is validated and every descriptor's blob must be in the archive with
 * the size it claims. Nothing is tagged here; the result says what to tag.
 */
import { parseDigest } from "../../registry/digest.ts";
import {
  type Descriptor,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  parseManifest,
} from "../../registry/manifest.ts";
import { skipBody, tarFiles } from "./tar_walk.ts";

/** Where an archive's blobs go. */
export interface BlobSink {
  /** Consumes `body` (the bytes of `digest`); throws when they do not match. */
  put(digest: string, size: number, body: ReadableStream<Uint8Array>): Promise<void>;
  /** Bytes of a blob put earlier that was too large to keep in memory, if it can be read back. */
  read(digest: string): Promise<Uint8Array | undefined>;
}

/** A manifest or index reached from `index.json`. */
export interface ArchiveManifest {
  digest: string;
  mediaType: string;
  bytes: Uint8Array;
  /** Config and layer digests (manifests) or child manifest digests (indexes). */
  blobs: string[];
  children: string[];
  /** Config media type (a Helm chart has `application/vnd.cncf.helm.config.v1+json`). */
  configMediaType?: string;
}

/** What an archive holds, once read. */
export interface ArchiveContents {
  /** The top manifest (what the archive's tag points at). */
  top: ArchiveManifest;
  /** Every manifest reachable from the top one, children before parents. */
  manifests: ArchiveManifest[];
  /** `org.opencontainers.image.ref.name` of the top descriptor, if any. */
  refName?: string;
  /** `os/arch` of each platform (from index entries or image configs is not read). */
  platforms: string[];
  /** Sum of the sizes of the blobs the top manifest references (incl. manifests). */
  size: number;
  /**
   * The Helm chart layer when the top manifest is a chart, with its bytes when they were kept in
   * memory. It is not read here: a chart is read only after the bundle's signature checked out.
   */
  chartLayer?: { digest: string; size: number; bytes?: Uint8Array };
}

/** Helm chart media types in OCI registries (Helm 3.8+): the config and the chart layer. */
export const HELM = {
  config: "application/vnd.cncf.helm.config.v1+json",
  chart: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
} as const;

/** Config media types of container images (whose config names os and architecture). */
const IMAGE_CONFIGS = new Set([
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json",
]);

/** Something wrong inside an archive; the caller adds the archive's name. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
}

/** Blobs at most this large are kept in memory while the archive streams by. */
const KEEP_BLOB_BYTES = 1024 * 1024;
/** At most this much of an archive's blobs is kept in memory. */
const KEEP_TOTAL_BYTES = 8 * 1024 * 1024;
/**
 * index.json, manifests and image configs larger than the registry's manifest limit are refused
 * by the size their tar header gives, before any of them is read into memory.
 */
const MAX_DOCUMENT_BYTES = MAX_MANIFEST_BYTES;

function tooLarge(what: string, size: number): ArchiveError {
  return new ArchiveError(`${what} has ${size} bytes; at most ${MAX_DOCUMENT_BYTES} are accepted`);
}

async function readSmall(body: ReadableStream<Uint8Array>, size: number, what: string) {
  if (size > MAX_DOCUMENT_BYTES) {
    await skipBody(body);
    throw tooLarge(what, size);
  }
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Passes `body` through to the sink while keeping a copy of its bytes. */
function keepCopy(body: ReadableStream<Uint8Array>, size: number) {
  const copy = new Uint8Array(size);
  let at = 0;
  const through = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (at + chunk.length <= size) copy.set(chunk, at);
        at += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  );
  return { through, copy: () => at === size ? copy : undefined };
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof doc === "object" && doc !== null && !Array.isArray(doc)) return doc;
  } catch { /* reported below */ }
  throw new ArchiveError(`${what} is not a JSON object`);
}

function descriptors(list: unknown, what: string): Descriptor[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ArchiveError(`${what} is not a list`);
  return list as Descriptor[];
}

/** Reads an OCI archive from `body`, sending blobs to `sink`. */
export async function readOciArchive(
  body: ReadableStream<Uint8Array>,
  sink: BlobSink,
): Promise<ArchiveContents> {
  const sizes = new Map<string, number>();
  const kept = new Map<string, Uint8Array>();
  let keptBytes = 0;
  let index: Uint8Array | undefined;
  let dockerManifest = false;
  for await (const file of tarFiles(body)) {
    const blob = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(file.path);
    if (blob) {
      const digest = `${blob[1]}:${blob[2]}`;
      try {
        parseDigest(digest);
      } catch {
        await skipBody(file.body);
        throw new ArchiveError(`blob file "${file.path}" is not named by a valid digest`);
      }
      if (sizes.has(digest)) throw new ArchiveError(`blob "${digest}" appears twice`);
      sizes.set(digest, file.size);
      if (file.size <= KEEP_BLOB_BYTES && keptBytes + file.size <= KEEP_TOTAL_BYTES) {
        const { through, copy } = keepCopy(file.body, file.size);
        await sink.put(digest, file.size, through);
        const bytes = copy();
        if (bytes) kept.set(digest, bytes);
        keptBytes += file.size;
      } else {
        await sink.put(digest, file.size, file.body);
      }
    } else if (file.path === "index.json") {
      index = await readSmall(file.body, file.size, "index.json");
    } else if (file.path === "manifest.json") {
      dockerManifest = true;
      await skipBody(file.body);
    } else {
      await skipBody(file.body);
    }
  }
  if (!index) {
    throw new ArchiveError(
      dockerManifest
        ? 'is a "docker save" archive, not an OCI archive; re-create it with ' +
          '"skopeo copy docker-archive:F oci-archive:F"'
        : "has no index.json (not an OCI archive)",
    );
  }
  return await walkIndex(index, sizes, kept, sink);
}

async function walkIndex(
  indexBytes: Uint8Array,
  sizes: Map<string, number>,
  kept: Map<string, Uint8Array>,
  sink: BlobSink,
): Promise<ArchiveContents> {
  const index = parseJson(indexBytes, "index.json");
  const entries = descriptors(index.manifests, "index.json manifests");
  if (entries.length === 0) throw new ArchiveError("index.json lists no manifest");
  if (entries.length > 1) {
    throw new ArchiveError(`index.json lists ${entries.length} manifests; expected one image`);
  }
  const topDesc = entries[0];
  const manifests: ArchiveManifest[] = [];
  const seen = new Set<string>();
  const platforms: string[] = [];
  let size = 0;

  const need = (d: Descriptor, where: string): number => {
    const actual = sizes.get(d.digest);
    if (actual === undefined) {
      throw new ArchiveError(`${where} points at blob "${d.digest}" which is not in the archive`);
    }
    if (typeof d.size === "number" && d.size !== actual) {
      throw new ArchiveError(
        `${where} says blob "${d.digest}" has ${d.size} bytes but the archive has ${actual}`,
      );
    }
    return actual;
  };
  const bytesOf = async (digest: string): Promise<Uint8Array> => {
    const bytes = kept.get(digest) ?? await sink.read(digest);
    if (!bytes) throw new ArchiveError(`manifest "${digest}" could not be read back`);
    return bytes;
  };

  const visit = async (d: Descriptor, where: string): Promise<ArchiveManifest> => {
    const own = need(d, where);
    if (own > MAX_DOCUMENT_BYTES) throw tooLarge(`manifest "${d.digest}"`, own);
    size += own;
    const bytes = await bytesOf(d.digest);
    let info;
    try {
      info = parseManifest(bytes, d.mediaType);
    } catch (err) {
      throw new ArchiveError(`manifest "${d.digest}": ${(err as Error).message}`);
    }
    const doc = parseJson(bytes, `manifest "${d.digest}"`);
    const m: ArchiveManifest = {
      digest: d.digest,
      mediaType: info.mediaType,
      bytes,
      blobs: info.blobs,
      children: info.manifests,
    };
    if (info.mediaType === MEDIA_TYPES.ociIndex || info.mediaType === MEDIA_TYPES.dockerList) {
      for (const child of descriptors(doc.manifests, "manifests")) {
        const p = child.platform as { os?: string; architecture?: string; variant?: string };
        if (p?.os) platforms.push([p.os, p.architecture, p.variant].filter(Boolean).join("/"));
        if (!seen.has(child.digest)) {
          seen.add(child.digest);
          await visit(child, `index "${d.digest}"`);
        }
      }
    } else {
      const config = doc.config as Descriptor;
      m.configMediaType = config.mediaType;
      const configSize = need(config, `manifest "${d.digest}"`);
      if (configSize > MAX_DOCUMENT_BYTES) {
        throw tooLarge(`config "${config.digest}" of manifest "${d.digest}"`, configSize);
      }
      size += configSize;
      for (const b of descriptors(doc.layers, "layers")) {
        if (Array.isArray(b.urls) && b.urls.length > 0) continue;
        size += need(b, `manifest "${d.digest}"`);
      }
    }
    manifests.push(m);
    return m;
  };

  seen.add(topDesc.digest);
  const top = await visit(topDesc, "index.json");
  const refName = topDesc.annotations?.["org.opencontainers.image.ref.name"];
  const p = topDesc.platform as { os?: string; architecture?: string } | undefined;
  if (platforms.length === 0 && p?.os) platforms.push(`${p.os}/${p.architecture}`);
  if (platforms.length === 0 && top.configMediaType && IMAGE_CONFIGS.has(top.configMediaType)) {
    // A single-platform image: its config (small, kept in memory) names the platform.
    const configDigest = top.blobs[0];
    const bytes = kept.get(configDigest) ?? await sink.read(configDigest);
    try {
      const config = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
      if (config?.os) {
        platforms.push([config.os, config.architecture, config.variant].filter(Boolean).join("/"));
      }
    } catch {
      // A config that is not JSON names no platform; the manifest itself was validated.
    }
  }
  let chartLayer: ArchiveContents["chartLayer"];
  if (top.configMediaType === HELM.config) {
    const layer = descriptors(parseJson(top.bytes, "manifest").layers, "layers")
      .find((l) => l.mediaType === HELM.chart);
    if (layer) {
      chartLayer = {
        digest: layer.digest,
        size: need(layer, "manifest"),
        bytes: kept.get(layer.digest),
      };
    }
  }
  return { top, manifests, refName, platforms, size, chartLayer };
}

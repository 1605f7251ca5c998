/** Manifest media types, parsing and validation (OCI image manifest/index, Docker schema2/list). */
import { isDigest } from "./digest.ts";
import { RegistryError } from "./errors.ts";

/** Media types of manifests the registry stores. */
export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/** Every manifest media type accepted on PUT. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.values(MEDIA_TYPES);

/** Largest manifest accepted (the spec's recommended minimum limit). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: unknown;
}

/** What the registry needs to know about a manifest. */
export interface ManifestInfo {
  mediaType: string;
  /** Blobs it references (config and layers), to be present in the repository. */
  blobs: string[];
  /** Manifests it references (index children), to be present in the repository. */
  manifests: string[];
  /** Every blob and manifest of `blobs` and `manifests` with the size its descriptor declares. */
  references: { digest: string; size: number }[];
  subject?: Descriptor;
  /** `artifactType`, or the config media type, as the referrers API reports it. */
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(detail: string): RegistryError {
  return new RegistryError("MANIFEST_INVALID", `Manifest invalid: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} is not an object`);
  if (typeof v.mediaType !== "string" || v.mediaType === "") {
    throw invalid(`${where}.mediaType is missing`);
  }
  if (typeof v.digest !== "string" || !isDigest(v.digest)) {
    throw invalid(`${where}.digest is not a valid digest`);
  }
  if (typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0) {
    throw invalid(`${where}.size is not a non-negative integer`);
  }
  return v as unknown as Descriptor;
}

function descriptors(v: unknown, where: string): Descriptor[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${where} is not an array`);
  return v.map((d, i) => descriptor(d, `${where}[${i}]`));
}

/** The media type of a stored manifest: its `mediaType` field, else inferred from its shape. */
function mediaTypeOf(doc: Record<string, unknown>, contentType?: string): string {
  if (typeof doc.mediaType === "string" && doc.mediaType !== "") return doc.mediaType;
  if (contentType && MANIFEST_MEDIA_TYPES.includes(contentType)) return contentType;
  return Array.isArray(doc.manifests) ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest;
}

/**
 * Parses and validates manifest bytes. `contentType` is the PUT's `Content-Type`; when the
 * document has a `mediaType` it must agree. Throws `MANIFEST_INVALID` with the reason.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ManifestInfo {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw invalid(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw invalid(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(doc)) throw invalid("not a JSON object");
  if (doc.schemaVersion !== 2) throw invalid("schemaVersion is not 2");
  const ct = contentType?.split(";")[0].trim();
  const mediaType = mediaTypeOf(doc, ct);
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw invalid(`unsupported media type "${mediaType}"`);
  }
  if (
    ct && MANIFEST_MEDIA_TYPES.includes(ct) && typeof doc.mediaType === "string" &&
    doc.mediaType !== ct
  ) {
    throw invalid(`mediaType "${doc.mediaType}" does not match Content-Type "${ct}"`);
  }
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, "subject");
  const annotations = isObject(doc.annotations)
    ? doc.annotations as Record<string, string>
    : undefined;
  const artifactType = typeof doc.artifactType === "string" ? doc.artifactType : undefined;
  if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList) {
    if (!Array.isArray(doc.manifests)) throw invalid("manifests is missing");
    const children = descriptors(doc.manifests, "manifests");
    return {
      mediaType,
      blobs: [],
      manifests: children.map((d) => d.digest),
      references: children.map(({ digest, size }) => ({ digest, size })),
      subject,
      artifactType,
      annotations,
    };
  }
  if (doc.config === undefined) throw invalid("config is missing");
  const config = descriptor(doc.config, "config");
  if (doc.layers === undefined && mediaType === MEDIA_TYPES.dockerManifest) {
    throw invalid("layers is missing");
  }
  const layers = descriptors(doc.layers, "layers");
  const local = [config, ...layers].filter((d) => !(Array.isArray(d.urls) && d.urls.length > 0));
  return {
    mediaType,
    blobs: local.map((d) => d.digest),
    manifests: [],
    references: local.map(({ digest, size }) => ({ digest, size })),
    subject,
    artifactType: artifactType ?? config.mediaType,
    annotations,
  };
}

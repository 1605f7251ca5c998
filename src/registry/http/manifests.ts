/** Manifest routes: `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<tag|digest>` with `Accept` checks. */
import { isDigest, parseDigest } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { readLimited } from "../limits.ts";
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES } from "../manifest.ts";
import { checkRepositoryName, checkTag, isTag } from "../names.ts";
import type { RegistryStorage, StoredManifest } from "../storage/storage.ts";
import {
  API_VERSION,
  type HandlerDeps,
  NAME,
  type RegistryApp,
  type RegistryContext,
  repoParam,
} from "./context.ts";

const MANIFEST = `${NAME}/manifests/:reference`;

/** Validates a reference as a digest or a tag. */
function checkReference(ref: string): string {
  if (ref.includes(":")) parseDigest(ref);
  else checkTag(ref);
  return ref;
}

/** The reference path parameter, validated as a digest or a tag. */
function referenceParam(c: RegistryContext): string {
  return checkReference(c.req.param("reference") ?? "");
}

/**
 * True when the client's `Accept` allows `mediaType`: no header, a wildcard, the type itself,
 * or a list naming no manifest type at all (such clients take whatever is stored).
 */
export function acceptable(accept: string | undefined, mediaType: string): boolean {
  if (!accept || accept === mediaType) return true;
  const types = accept.split(",").map((t) => t.split(";")[0].trim().toLowerCase());
  if (types.includes(mediaType) || types.includes("*/*") || types.includes("application/*")) {
    return true;
  }
  return !types.some((t) => MANIFEST_MEDIA_TYPES.includes(t));
}

/**
 * Answers `GET|HEAD /v2/<name>/manifests/<reference>` (also called by `hot_reads.ts`). A
 * reference that is no valid tag or digest names nothing stored: 404 `MANIFEST_UNKNOWN`, as the
 * OCI conformance suite requires for reads (a PUT to it stays 400). Answered without waiting
 * when the storage's index and manifest cache hold the reference (no promise on the hot path);
 * failures are thrown, or rejected once it waits.
 */
export function readManifest(
  storage: RegistryStorage,
  req: Request,
  repo: string,
  reference: string,
): Response | Promise<Response> {
  checkRepositoryName(repo);
  const ref = reference;
  if (!(ref.includes(":") ? isDigest(ref) : isTag(ref))) {
    throw new RegistryError(
      "MANIFEST_UNKNOWN",
      `Manifest "${ref.slice(0, 200)}" is not in "${repo}": it is no valid tag or digest`,
    );
  }
  const known = storage.peekManifest(repo, ref);
  if (known) return manifestResponse(req, ref, known);
  return storage.getManifest(repo, ref).then((m) => {
    if (!m) throw new RegistryError("MANIFEST_UNKNOWN", `Manifest "${ref}" is not in "${repo}"`);
    return manifestResponse(req, ref, m);
  });
}

/** The answer to a read of manifest `m` (by `ref`): 200, 304 or `MANIFEST_UNKNOWN`. */
function manifestResponse(req: Request, ref: string, m: StoredManifest): Response {
  if (!acceptable(req.headers.get("Accept") ?? undefined, m.mediaType)) {
    throw new RegistryError(
      "MANIFEST_UNKNOWN",
      `Manifest "${ref}" is a "${m.mediaType}", which the client does not accept`,
    );
  }
  const headers = {
    "Docker-Distribution-API-Version": API_VERSION,
    "Content-Type": m.mediaType,
    "Content-Length": String(m.bytes.length),
    "Docker-Content-Digest": m.digest,
    "ETag": `"${m.digest}"`,
  };
  if (req.headers.get("If-None-Match") === `"${m.digest}"`) {
    return new Response(null, { status: 304, headers });
  }
  return new Response(req.method === "HEAD" ? null : m.bytes as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers,
  });
}

/** Registers the manifest routes. */
export function registerManifests(app: RegistryApp, { storage }: HandlerDeps): void {
  app.get(
    MANIFEST,
    (c) =>
      readManifest(
        storage,
        c.req.raw,
        c.req.param("name" as never) as string,
        c.req.param("reference"),
      ),
  );

  app.put(MANIFEST, async (c) => {
    const repo = repoParam(c);
    const ref = referenceParam(c);
    const length = Number(c.req.header("Content-Length") ?? 0);
    if (length > MAX_MANIFEST_BYTES) {
      throw new RegistryError(
        "MANIFEST_INVALID",
        `Manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
      );
    }
    const bytes = await readLimited(
      c.req.raw.body,
      MAX_MANIFEST_BYTES,
      () =>
        new RegistryError(
          "MANIFEST_INVALID",
          `Manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
        ),
    );
    const result = await storage.putManifest(repo, bytes, {
      reference: ref,
      contentType: c.req.header("Content-Type"),
    });
    const headers: Record<string, string> = {
      "Location": `/v2/${repo}/manifests/${result.digest}`,
      "Docker-Content-Digest": result.digest,
      "Content-Length": "0",
    };
    if (result.subject) headers["OCI-Subject"] = result.subject;
    return new Response(null, { status: 201, headers });
  });

  app.delete(MANIFEST, async (c) => {
    const repo = repoParam(c);
    const ref = referenceParam(c);
    const deleted = ref.includes(":")
      ? await storage.deleteManifest(repo, ref)
      : await storage.deleteTag(repo, ref);
    if (!deleted) {
      throw new RegistryError("MANIFEST_UNKNOWN", `Manifest "${ref}" is not in "${repo}"`);
    }
    return new Response(null, { status: 202 });
  });
}

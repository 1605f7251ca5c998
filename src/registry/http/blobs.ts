/** Blob routes: `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`, streamed, with `Range` support. */
import { RegistryError } from "../errors.ts";
import { checkRepositoryName } from "../names.ts";
import type { BlobInfo, RegistryStorage } from "../storage/storage.ts";
import {
  API_VERSION,
  digestValue,
  type HandlerDeps,
  NAME,
  type RegistryApp,
  repoParam,
} from "./context.ts";
import { rangedResponse } from "./range.ts";

/**
 * Answers `GET|HEAD /v2/<name>/blobs/<digest>` (also called by `hot_reads.ts`); a HEAD is
 * answered without waiting when the storage's index and size cache know the blob. Failures are
 * thrown, or rejected once it waits.
 */
export function readBlob(
  storage: RegistryStorage,
  req: Request,
  repo: string,
  digestParam: string,
): Response | Promise<Response> {
  checkRepositoryName(repo);
  const digest = digestValue(digestParam);
  const known = storage.peekRepoBlob(repo, digest);
  if (known) return blobResponse(storage, req, known);
  return storage.statRepoBlob(repo, digest).then((info) => {
    if (!info) throw new RegistryError("BLOB_UNKNOWN", `Blob "${digest}" is not in "${repo}"`);
    return blobResponse(storage, req, info);
  });
}

/** The answer to a read of a stored blob: 304, 416, or its bytes (or headers, for HEAD). */
function blobResponse(
  storage: RegistryStorage,
  req: Request,
  info: BlobInfo,
): Response | Promise<Response> {
  const digest = info.digest;
  const headers: Record<string, string> = {
    "Docker-Distribution-API-Version": API_VERSION,
    "Docker-Content-Digest": digest,
    "ETag": `"${digest}"`,
    "Accept-Ranges": "bytes",
    "Content-Type": "application/octet-stream",
    "Cache-Control": "max-age=31536000",
  };
  if (req.headers.get("if-none-match") === `"${digest}"`) {
    return new Response(null, { status: 304, headers });
  }
  return rangedResponse(req, info.size, headers, async (range) => {
    // Straight into the Response below: the disk driver may reuse its read buffers.
    const blob = await storage.openBlob(digest, range, { forResponse: true });
    if (!blob) throw new RegistryError("BLOB_UNKNOWN", `Blob "${digest}" is not stored`);
    return blob.stream;
  });
}

/** Registers the blob routes. */
export function registerBlobs(app: RegistryApp, { storage }: HandlerDeps): void {
  app.get(
    `${NAME}/blobs/:digest`,
    (c) =>
      readBlob(storage, c.req.raw, c.req.param("name" as never) as string, c.req.param("digest")),
  );

  app.delete(`${NAME}/blobs/:digest`, async (c) => {
    const repo = repoParam(c);
    const digest = digestValue(c.req.param("digest"));
    if (!(await storage.unlinkBlob(repo, digest))) {
      throw new RegistryError("BLOB_UNKNOWN", `Blob "${digest}" is not in "${repo}"`);
    }
    return new Response(null, { status: 202, headers: { "Docker-Content-Digest": digest } });
  });
}

/**
 * Upload routes under `/v2/<name>/blobs/uploads/`: POST (monolithic with `?digest=`, session
 * start, cross-repo mount), PATCH chunks, PUT to finish, GET status, DELETE to cancel. Bodies
 * are streamed into the storage's uploads area, never buffered. Sessions are bound to the
 * repository that started them and capped (`upload_sessions.ts`).
 */
import { RegistryError } from "../errors.ts";
import { isRepositoryName } from "../names.ts";
import {
  clientAddress,
  digestValue,
  type HandlerDeps,
  NAME,
  type RegistryApp,
  type RegistryContext,
  repoParam,
} from "./context.ts";
import { parseContentRange } from "./range.ts";

const UPLOAD = `${NAME}/blobs/uploads/:id{[a-f0-9-]{36}}`;

function uploadHeaders(repo: string, id: string, size: number): Record<string, string> {
  return {
    "Location": `/v2/${repo}/blobs/uploads/${id}`,
    "Range": `0-${Math.max(0, size - 1)}`,
    "Docker-Upload-UUID": id,
    "Content-Length": "0",
  };
}

function created(repo: string, digest: string): Response {
  return new Response(null, {
    status: 201,
    headers: {
      "Location": `/v2/${repo}/blobs/${digest}`,
      "Docker-Content-Digest": digest,
      "Content-Length": "0",
    },
  });
}

/** The body of the request, or null when it has none. */
function body(c: RegistryContext): ReadableStream<Uint8Array> | null {
  return c.req.raw.body;
}

/**
 * The chunk's `Content-Range`, or undefined. A `Content-Length` that disagrees with it is
 * `RANGE_INVALID` before the body is read (the storage checks the bytes themselves too).
 */
async function chunkRange(c: RegistryContext) {
  const range = parseContentRange(c.req.header("Content-Range"));
  const declared = c.req.header("Content-Length");
  if (range && declared !== undefined && Number(declared) !== range.length) {
    await c.req.raw.body?.cancel().catch(() => {});
    throw new RegistryError(
      "RANGE_INVALID",
      `Content-Range announces ${range.length} bytes but Content-Length is ${
        declared.slice(0, 20)
      }`,
    );
  }
  return range;
}

/** Registers the upload routes. */
export function registerUploads(app: RegistryApp, { storage, sessions }: HandlerDeps): void {
  app.post(`${NAME}/blobs/uploads/`, async (c) => {
    const repo = repoParam(c);
    const mount = c.req.query("mount");
    const from = c.req.query("from");
    if (mount !== undefined && from !== undefined && isRepositoryName(from)) {
      const digest = digestValue(mount);
      if (await storage.mountBlob(from, repo, digest)) return created(repo, digest);
    }
    const digestQuery = c.req.query("digest");
    if (digestQuery !== undefined) {
      const digest = digestValue(digestQuery);
      const length = c.req.header("Content-Length");
      const info = await storage.putBlob(body(c), {
        digest,
        size: length === undefined ? undefined : Number(length),
      });
      await storage.linkBlob(repo, info.digest);
      return created(repo, info.digest);
    }
    await c.req.raw.body?.cancel();
    const id = await sessions.start(repo, clientAddress(c));
    return new Response(null, { status: 202, headers: uploadHeaders(repo, id, 0) });
  });

  app.patch(UPLOAD, async (c) => {
    const repo = repoParam(c);
    const id = c.req.param("id");
    await sessions.check(repo, id);
    const range = await chunkRange(c);
    const size = await storage.appendUpload(id, body(c), range?.offset, range?.length);
    return new Response(null, { status: 202, headers: uploadHeaders(repo, id, size) });
  });

  app.put(UPLOAD, async (c) => {
    const repo = repoParam(c);
    const id = c.req.param("id");
    const digest = digestValue(c.req.query("digest"));
    await sessions.check(repo, id);
    const range = await chunkRange(c);
    if (c.req.raw.body) {
      await storage.appendUpload(id, body(c), range?.offset, range?.length);
    }
    let info;
    try {
      info = await storage.commitUpload(id, { digest });
    } finally {
      await sessions.settle(id);
    }
    await storage.linkBlob(repo, info.digest);
    return created(repo, info.digest);
  });

  app.get(UPLOAD, async (c) => {
    const repo = repoParam(c);
    const id = c.req.param("id");
    await sessions.check(repo, id);
    const size = await storage.uploadSize(id);
    if (size === undefined) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", `Upload "${id}" is not known`);
    }
    return new Response(null, { status: 204, headers: uploadHeaders(repo, id, size) });
  });

  app.delete(UPLOAD, async (c) => {
    const repo = repoParam(c);
    const id = c.req.param("id");
    await sessions.check(repo, id);
    if (!(await sessions.cancel(id))) {
      throw new RegistryError("BLOB_UPLOAD_UNKNOWN", `Upload "${id}" is not known`);
    }
    return new Response(null, { status: 204 });
  });
}

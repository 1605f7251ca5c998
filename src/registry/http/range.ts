/**
 * HTTP `Range` (for blob and file GET) and `Content-Range` (for upload PATCH) parsing, and the
 * one ranged response both GET handlers answer with.
 */
import { RegistryError } from "../errors.ts";

/** A byte range to serve: `offset` and `length` within a blob of `size` bytes. */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * Parses a single-range `Range: bytes=a-b | a- | -n` header against `size`. Returns undefined
 * for no (or an unparseable, hence ignored) header; throws `RANGE_INVALID` when unsatisfiable.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== "" && Number(m[2]) < start) return undefined;
  }
  if (start >= size || end < start) throw unsatisfiable(size);
  return { offset: start, length: end - start + 1 };
}

function unsatisfiable(size: number): RegistryError {
  return new RegistryError("RANGE_INVALID", "Requested range not satisfiable", { size });
}

/** Parses an upload chunk's `Content-Range: <start>-<end>` (also accepts a `bytes ` prefix). */
export function parseContentRange(header: string | undefined): ByteRange | undefined {
  if (!header) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) {
    throw new RegistryError("RANGE_INVALID", `Invalid Content-Range "${header.slice(0, 60)}"`);
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) {
    throw new RegistryError("RANGE_INVALID", `Invalid Content-Range "${header.slice(0, 60)}"`);
  }
  return { offset: start, length: end - start + 1 };
}

/**
 * The answer to a GET or HEAD of `size` bytes with `headers`, honouring a single `Range`: 416
 * with `Content-Range: bytes *\/<size>` when unsatisfiable, else 206 (or 200) with
 * `Content-Length` and `Content-Range`. The body comes from `open(range)` (undefined: the
 * whole), which may answer with a Response of its own instead (e.g. a 404).
 */
export function rangedResponse(
  req: Request,
  size: number,
  headers: Record<string, string>,
  open: (range?: ByteRange) => Promise<ReadableStream<Uint8Array> | Response>,
): Response | Promise<Response> {
  let range;
  try {
    range = parseRange(req.headers.get("range") ?? undefined, size);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    return new Response(null, {
      status: 416,
      headers: { ...headers, "Content-Range": `bytes */${size}` },
    });
  }
  const status = range ? 206 : 200;
  const length = range ? range.length : size;
  headers["Content-Length"] = String(length);
  if (range) {
    headers["Content-Range"] = `bytes ${range.offset}-${range.offset + length - 1}/${size}`;
  }
  if (req.method === "HEAD") return new Response(null, { status, headers });
  return open(range).then((body) =>
    body instanceof Response ? body : new Response(body, { status, headers })
  );
}

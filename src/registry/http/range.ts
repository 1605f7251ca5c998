/** HTTP `Range` (for blob GET) and `Content-Range` (for upload PATCH) parsing. */
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

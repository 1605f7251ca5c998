/**
 * Walks the regular files of a tar stream with modern-tar, refusing what a bundle must
 * never hold: absolute or `..` paths, symbolic and hard links, devices and fifos.
 */
import { createTarDecoder } from "modern-tar";

/** One regular file of a tar stream. The consumer must read or cancel `body`. */
export interface TarFile {
  /** Normalised relative path (`./` and duplicate slashes removed). */
  path: string;
  size: number;
  body: ReadableStream<Uint8Array>;
}

/** A tar entry that cannot be accepted; `path` names it. */
export class UnsafeEntryError extends Error {
  override name = "UnsafeEntryError";
  constructor(readonly path: string, reason: string) {
    super(`entry "${path}" ${reason}`);
  }
}

/**
 * Reads past an entry's body. (Cancelling a modern-tar body stalls the decoder when it is
 * nested in another archive, so bodies are always read to their end.)
 */
export async function skipBody(body: ReadableStream<Uint8Array>): Promise<void> {
  await body.pipeTo(new WritableStream());
}

/** Normalises a tar entry path, or throws {@link UnsafeEntryError} for absolute or `..` paths. */
export function safeEntryPath(name: string): string {
  if (name.startsWith("/")) throw new UnsafeEntryError(name, "has an absolute path");
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnsafeEntryError(name, 'has a ".." path component');
  if (name.includes("\0")) throw new UnsafeEntryError(name, "has a NUL byte in its path");
  return parts.join("/");
}

/**
 * Yields the regular files of `stream` in order; directories are passed over. `strict`
 * checks header checksums and truncation; it is for the outer stream only: modern-tar 0.8.6
 * stalls at the end of a strict decoder nested in another one's entry (an inner archive's
 * length is bounded by its outer entry, and its blobs are digest-checked anyway).
 */
export async function* tarFiles(
  stream: ReadableStream<Uint8Array>,
  options: { strict?: boolean } = {},
): AsyncGenerator<TarFile> {
  const entries = stream.pipeThrough(createTarDecoder({ strict: options.strict ?? false }));
  for await (const entry of entries) {
    const { header } = entry;
    const type = header.type ?? "file";
    if (type === "directory") {
      safeEntryPath(header.name);
      await skipBody(entry.body);
      continue;
    }
    if (type === "symlink" || type === "link") {
      await skipBody(entry.body);
      throw new UnsafeEntryError(
        header.name,
        `is a ${type === "symlink" ? "symbolic" : "hard"} link; links are not allowed`,
      );
    }
    if (type !== "file") {
      await skipBody(entry.body);
      throw new UnsafeEntryError(header.name, `has unsupported type "${type}"`);
    }
    const path = safeEntryPath(header.name);
    yield { path, size: header.size, body: entry.body };
  }
}

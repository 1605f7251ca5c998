/**
 * The storage driver interface: the few file operations the registry storage needs, with a
 * disk implementation ({@link DiskDriver} in `disk_driver.ts`) and an in-memory one
 * (`memory_driver.ts`). Paths are relative to the storage root and come from `layout.ts`.
 */

/** What {@link StorageDriver.stat} reports. */
export interface FileInfo {
  size: number;
  mtimeMs: number;
  isDirectory: boolean;
}

/** One entry of {@link StorageDriver.list}. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/** An open file being appended to. */
export interface AppendHandle {
  /** Appends `chunk` (the handle may buffer; the caller must not reuse `chunk`). */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes, optionally fsyncs, and closes. */
  close(sync: boolean): Promise<void>;
  /** Closes without flushing buffered bytes (after a failed write). */
  abort(): void;
}

/** Options of {@link StorageDriver.openRead}. */
export interface ReadOptions {
  /**
   * The stream goes straight into an HTTP response body of `Deno.serve`/`serveHttpOnConnection`,
   * whose sink takes a chunk only when less than 64 KiB of earlier ones wait to be sent: chunks
   * may then share a few reused buffers. Any other reader (one that keeps chunks, or a
   * transform in between) must not set it.
   */
  forResponse?: boolean;
}

/**
 * A counter shared by every process on a storage root: a file that only grows, by one byte a
 * bump (see `metadata_index.ts`).
 */
export interface ChangeCounter {
  /** The count now: the file's size (one `lseek` on an open descriptor, no path lookup). */
  value(): number;
  /** Adds one (an `O_APPEND` one-byte write: bumps from several processes never collide). */
  bump(): void;
}

/** File operations on a storage root. Every write is atomic (temp + rename) or an append. */
export interface StorageDriver {
  /** Where the storage lives, for messages (`/var/lib/k0rdentd/registry` or `memory`). */
  readonly location: string;
  /**
   * The directory the storage lives in when it is on a local filesystem (a bundle load watches
   * its free space); undefined for storage that is not (memory).
   */
  readonly directory?: string;
  /** Size and time of `path`, or undefined when it does not exist. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** Whole content of a small file, or undefined when it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces `path` atomically (temp file beside it, fsync, rename), creating parents. An empty
   * file (a link) is created in place: it has no content that could be torn.
   */
  writeFile(path: string, data: Uint8Array): Promise<void>;
  /** Opens `path` for appending, creating it (and parents) when `create` is set. */
  openAppend(path: string, create: boolean): Promise<AppendHandle | undefined>;
  /**
   * Streams `length` bytes of `path` from `offset`, or undefined when it does not exist. With
   * `forResponse`, the caller hands the stream straight to a `Response` served by the runtime
   * (no transform, no other reader): the driver may then refill a chunk's buffer a few chunks
   * later (see {@link ReadOptions}).
   */
  openRead(
    path: string,
    offset: number,
    length: number,
    options?: ReadOptions,
  ): Promise<ReadableStream<Uint8Array> | undefined>;
  /** Cuts `path` to its first `size` bytes (undoing an append that must not stand). */
  truncate(path: string, size: number): Promise<void>;
  /** Renames atomically, replacing `to` and creating its parents. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file (or a directory tree); false when it did not exist. */
  remove(path: string, recursive?: boolean): Promise<boolean>;
  /** Entries of a directory; empty when it does not exist. */
  list(dir: string): Promise<DirEntry[]>;
  /**
   * Opens the counter file `path` (creating it and its parents) and keeps it open; undefined
   * when it cannot be opened (a read-only storage).
   */
  openCounter(path: string): ChangeCounter | undefined;
}

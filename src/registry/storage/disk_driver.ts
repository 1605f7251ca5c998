/** Storage driver on a local directory: temp + fsync + rename writes, 512 KiB streaming reads. */
import { dirname, join } from "node:path";
import type {
  AppendHandle,
  ChangeCounter,
  DirEntry,
  FileInfo,
  ReadOptions,
  StorageDriver,
} from "./driver.ts";

/** Size of each read when streaming a blob out (larger reads are much faster than 64 KiB). */
export const READ_CHUNK = 512 << 10;
/** Files up to this size are cached by path, validated by `stat` (tags). */
const SMALL_FILE = 1024;
const SMALL_FILE_ENTRIES = 10_000;
/** Appends are gathered into writes of this size. */
const WRITE_CHUNK = 1 << 20;

function notFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound;
}

/**
 * Buffers a {@link ReadOptions.forResponse} stream cycles through. The runtime's response sink
 * (denoland/deno `ext/web/06_streams.js` `resourceForReadableStream`) takes chunk k only once
 * less than 64 KiB of earlier chunks wait in its channel (`ext/web/stream_resource.rs`,
 * `BUFFER_BACKPRESSURE_LIMIT`), and reads chunk k + 1 from this stream only after that, which is
 * what asks for chunk k + 2. So when chunk k + 2's buffer is filled, everything before the last
 * 64 KiB of chunk k - 1 has left the channel, and the HTTP layer holds at most its own write
 * queue of it (hyper: about 400 KiB for HTTP/1.1, `max_buf_size`; HTTP/2 `max_send_buffer_size`
 * likewise; rustls copies as it encrypts). With 7 buffers of 512 KiB, chunk k + 2 reuses chunk
 * k - 5's, which is safe while the layers below hold less than 4 chunks minus 64 KiB (1.94 MiB).
 * tests/registry_blob_stream_test.ts reads a large blob slowly through a real daemon to catch a
 * runtime that buffers more (it fails with 3 buffers).
 */
const RESPONSE_RING = 7;
/**
 * Response streams through JS at once (each holds up to 3.5 MiB, {@link RESPONSE_RING}); further
 * whole-file downloads use the runtime's pump, `FsFile.readable`.
 */
const MAX_RING_STREAMS = 8;

/**
 * Streams `length` bytes of an open file in 512 KiB buffers (one read ahead), closing it at the
 * end and then calling `onClose`. While `readsSync()` says so, a read is `readSync` on this
 * thread; else it goes through the runtime's blocking pool, so the disk read overlaps the socket
 * writes of other downloads. Buffers are fresh for every chunk unless `ring` is set: then chunk
 * k reuses chunk k - `ring`'s buffer
 * (allocated on first use), which only a reader that lets go of each chunk in time may read
 * ({@link RESPONSE_RING}). A fresh buffer for every read (of 1 MiB) is what made a download
 * cost 2-4x docker-registry's CPU: zeroing, page faults and collecting 256 of them per 256 MiB
 * blob (docs/benchmarks.md).
 */
function fileStream(
  file: Deno.FsFile,
  length: number,
  onClose: () => void,
  ring = 0,
  readsSync: () => boolean = () => false,
): ReadableStream<Uint8Array> {
  const buffers: Uint8Array[] = [];
  let chunks = 0;
  let remaining = length;
  let closed = false;
  const close = () => {
    if (!closed) {
      closed = true;
      file.close();
      onClose();
    }
  };
  const nextBuffer = (size: number): Uint8Array => {
    if (ring === 0) return new Uint8Array(size);
    const slot = chunks++ % ring;
    buffers[slot] ??= new Uint8Array(READ_CHUNK);
    return buffers[slot].subarray(0, size);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining <= 0) {
        close();
        controller.close();
        return;
      }
      const buf = nextBuffer(Math.min(READ_CHUNK, remaining));
      let filled = 0;
      const sync = readsSync();
      try {
        while (filled < buf.length) {
          const part = buf.subarray(filled);
          const n = sync ? file.readSync(part) : await file.read(part);
          if (n === null) break;
          filled += n;
        }
      } catch (err) {
        close();
        controller.error(err);
        return;
      }
      if (filled === 0) {
        close();
        controller.error(new Error("File shorter than expected"));
        return;
      }
      remaining -= filled;
      controller.enqueue(filled === buf.length ? buf : buf.subarray(0, filled));
      if (remaining <= 0) {
        close();
        controller.close();
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 1 });
}

class DiskAppend implements AppendHandle {
  #file: Deno.FsFile;
  #buf = new Uint8Array(WRITE_CHUNK);
  #used = 0;
  constructor(file: Deno.FsFile) {
    this.#file = file;
  }
  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
  }
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length >= WRITE_CHUNK) {
      await this.#flush();
      await this.#writeAll(chunk);
      return;
    }
    if (this.#used + chunk.length > WRITE_CHUNK) await this.#flush();
    this.#buf.set(chunk, this.#used);
    this.#used += chunk.length;
  }
  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    await this.#writeAll(this.#buf.subarray(0, this.#used));
    this.#used = 0;
  }
  async close(sync: boolean): Promise<void> {
    try {
      await this.#flush();
      if (sync) await this.#file.sync();
    } finally {
      this.#file.close();
    }
  }
  abort(): void {
    this.#file.close();
  }
}

/**
 * A {@link StorageDriver} on the directory `root`.
 *
 * Metadata (stat, links, tag files of a few bytes) is read with the synchronous calls: on a
 * local disk they take microseconds, while each async call hops through a thread pool; this
 * took manifest GET by tag from about 8k to 12k req/s in `bench/registry_bench.ts`. Tag files
 * are cached by path and checked against `stat` (inode, size, mtime) on every read, so a tag
 * renamed into place by another process is seen at once.
 *
 * Blob downloads (reads for a response, {@link ReadOptions.forResponse}): up to
 * {@link MAX_RING_STREAMS} at a time stream through JS in 512 KiB reads that cycle through
 * {@link RESPONSE_RING} reused buffers each (faster than the runtime's 64 KiB `FsFile.readable`
 * for one client, and no garbage); further whole-file downloads use `FsFile.readable`, which
 * Deno pumps without JS buffers (flat memory, CPU per download close to docker-registry's, but
 * one read at a time through the blocking pool: about 0.8 GiB/s for one client). Other reads
 * (bundle export, verify) get fresh buffers while no other stream runs through JS, else (whole
 * files) the pump.
 *
 * A download that streams through JS alone reads with `readSync`: each thread-pool read wakes a
 * pool thread and then this one (about 1,300 context switches a 256 MiB download, against
 * 230-320 with synchronous reads and docker-registry's 670-1,030), and with one client that cost
 * more CPU a download than reading on this thread (docs/benchmarks.md, "Blob GET: synchronous
 * reads"). With more downloads at once the reads go back to the pool, so that the other core
 * reads while this thread sends (all reads on this thread were slower there). A read of a blob
 * not in the page cache then blocks this thread for that disk read, as the metadata reads above
 * do.
 */
export class DiskDriver implements StorageDriver {
  readonly #small = new Map<
    string,
    { ino: number; size: number; mtimeMs?: number; data: Uint8Array }
  >();

  /** Downloads streaming through {@link fileStream} right now. */
  #jsStreams = 0;

  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  get directory(): string {
    return this.root;
  }

  #abs(path: string): string {
    return join(this.root, path);
  }

  stat(path: string): Promise<FileInfo | undefined> {
    try {
      const s = Deno.statSync(this.#abs(path));
      return Promise.resolve({
        size: s.size,
        mtimeMs: s.mtime?.getTime() ?? 0,
        isDirectory: s.isDirectory,
      });
    } catch (err) {
      return notFound(err) ? Promise.resolve(undefined) : Promise.reject(err);
    }
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    try {
      return Promise.resolve(this.#readSmallOrFile(path));
    } catch (err) {
      return notFound(err) ? Promise.resolve(undefined) : Promise.reject(err);
    }
  }

  /** Reads a file synchronously; files up to {@link SMALL_FILE} come from the stat-checked cache. */
  #readSmallOrFile(path: string): Uint8Array {
    const abs = this.#abs(path);
    const st = Deno.statSync(abs);
    const cached = this.#small.get(abs);
    if (
      cached && cached.ino === st.ino && cached.size === st.size &&
      cached.mtimeMs === st.mtime?.getTime()
    ) {
      return cached.data;
    }
    const data = Deno.readFileSync(abs);
    if (data.length <= SMALL_FILE && st.ino !== null) {
      if (this.#small.size >= SMALL_FILE_ENTRIES) this.#small.clear();
      this.#small.set(abs, { ino: st.ino, size: st.size, mtimeMs: st.mtime?.getTime(), data });
    }
    return data;
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const abs = this.#abs(path);
    const dir = dirname(abs);
    if (data.length === 0) {
      // An empty file (a link) has no content to tear: creating it in place is atomic.
      try {
        await Deno.writeFile(abs, data, { mode: 0o644 });
      } catch (err) {
        if (!notFound(err)) throw err;
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeFile(abs, data, { mode: 0o644 });
      }
      return;
    }
    const temp = join(dir, `.${crypto.randomUUID()}.tmp`);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
    } catch (err) {
      if (!notFound(err)) throw err;
      await Deno.mkdir(dir, { recursive: true });
      file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
    }
    try {
      try {
        let off = 0;
        while (off < data.length) off += await file.write(data.subarray(off));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temp, abs);
    } catch (err) {
      await Deno.remove(temp).catch(() => {});
      throw err;
    }
  }

  async openAppend(path: string, create: boolean): Promise<AppendHandle | undefined> {
    const abs = this.#abs(path);
    const open = () => Deno.open(abs, { append: true, create, mode: 0o644 });
    try {
      return new DiskAppend(await open());
    } catch (err) {
      if (!notFound(err)) throw err;
      if (!create) return undefined;
      await Deno.mkdir(dirname(abs), { recursive: true });
      return new DiskAppend(await open());
    }
  }

  async openRead(
    path: string,
    offset: number,
    length: number,
    options?: ReadOptions,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    // At most MAX_RING_STREAMS rings, ranged reads included; past it a read gets fresh buffers
    // (a whole file goes to the runtime's pump below).
    const ring = options?.forResponse && length > READ_CHUNK && this.#jsStreams < MAX_RING_STREAMS
      ? RESPONSE_RING
      : 0;
    let file: Deno.FsFile;
    try {
      file = await Deno.open(this.#abs(path), { read: true });
    } catch (err) {
      if (notFound(err)) return undefined;
      throw err;
    }
    try {
      if (offset > 0) await file.seek(offset, Deno.SeekMode.Start);
      const busy = this.#jsStreams >= (ring ? MAX_RING_STREAMS : 1);
      if (offset === 0 && busy && (await file.stat()).size === length) {
        // Enough downloads already stream through JS: serve this whole file through the
        // runtime's own resource pump (no JS buffers, so memory stays flat).
        return file.readable;
      }
    } catch (err) {
      file.close();
      throw err;
    }
    this.#jsStreams++;
    const alone = () => ring > 0 && this.#jsStreams === 1;
    return fileStream(file, length, () => this.#jsStreams--, ring, alone);
  }

  async truncate(path: string, size: number): Promise<void> {
    await Deno.truncate(this.#abs(path), size);
  }

  async rename(from: string, to: string): Promise<void> {
    const dest = this.#abs(to);
    try {
      await Deno.rename(this.#abs(from), dest);
    } catch (err) {
      if (!notFound(err) || (await this.stat(from)) === undefined) throw err;
      await Deno.mkdir(dirname(dest), { recursive: true });
      await Deno.rename(this.#abs(from), dest);
    }
  }

  async remove(path: string, recursive = false): Promise<boolean> {
    try {
      await Deno.remove(this.#abs(path), { recursive });
      return true;
    } catch (err) {
      if (notFound(err)) return false;
      throw err;
    }
  }

  openCounter(path: string): ChangeCounter | undefined {
    const abs = this.#abs(path);
    const open = () => Deno.openSync(abs, { append: true, create: true, mode: 0o644 });
    let file: Deno.FsFile;
    try {
      try {
        file = open();
      } catch (err) {
        if (!notFound(err)) throw err;
        Deno.mkdirSync(dirname(abs), { recursive: true });
        file = open();
      }
    } catch {
      return undefined;
    }
    const one = new Uint8Array(1);
    return {
      value: () => file.seekSync(0, Deno.SeekMode.End),
      bump: () => {
        if (file.writeSync(one) !== 1) throw new Error(`Cannot write "${abs}"`);
      },
    };
  }

  async list(dir: string): Promise<DirEntry[]> {
    const out: DirEntry[] = [];
    try {
      for await (const e of Deno.readDir(this.#abs(dir))) {
        out.push({ name: e.name, isDirectory: e.isDirectory });
      }
    } catch (err) {
      if (notFound(err)) return [];
      throw err;
    }
    return out;
  }
}

/** The storage driver in memory: same contract as the disk driver, for fast tests. */
import type { AppendHandle, ChangeCounter, DirEntry, FileInfo, StorageDriver } from "./driver.ts";

interface MemFile {
  chunks: Uint8Array[];
  size: number;
  mtimeMs: number;
}

function concat(file: MemFile): Uint8Array {
  const out = new Uint8Array(file.size);
  let off = 0;
  for (const c of file.chunks) {
    out.set(c, off);
    off += c.length;
  }
  file.chunks = [out];
  return out;
}

function normalise(path: string): string {
  return path.replace(/\/+$/, "");
}

/** A {@link StorageDriver} holding files in a map keyed by relative path. */
export class MemoryDriver implements StorageDriver {
  readonly location = "memory";
  readonly files = new Map<string, MemFile>();
  /** Directories, which (as on disk) stay when their last file is removed. */
  readonly dirs = new Set<string>();

  #isDir(path: string): boolean {
    return this.dirs.has(normalise(path));
  }

  #mkdirs(path: string): void {
    const parts = normalise(path).split("/");
    for (let i = 1; i < parts.length; i++) this.dirs.add(parts.slice(0, i).join("/"));
  }

  stat(path: string): Promise<FileInfo | undefined> {
    const f = this.files.get(normalise(path));
    if (f) return Promise.resolve({ size: f.size, mtimeMs: f.mtimeMs, isDirectory: false });
    if (this.#isDir(path)) return Promise.resolve({ size: 0, mtimeMs: 0, isDirectory: true });
    return Promise.resolve(undefined);
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    const f = this.files.get(normalise(path));
    return Promise.resolve(f ? concat(f).slice() : undefined);
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    const copy = data.slice();
    this.#mkdirs(path);
    this.files.set(normalise(path), { chunks: [copy], size: copy.length, mtimeMs: Date.now() });
    return Promise.resolve();
  }

  openAppend(path: string, create: boolean): Promise<AppendHandle | undefined> {
    const key = normalise(path);
    let file = this.files.get(key);
    if (!file) {
      if (!create) return Promise.resolve(undefined);
      file = { chunks: [], size: 0, mtimeMs: Date.now() };
      this.#mkdirs(path);
      this.files.set(key, file);
    }
    const target = file;
    return Promise.resolve({
      write(chunk: Uint8Array) {
        target.chunks.push(chunk.slice());
        target.size += chunk.length;
        target.mtimeMs = Date.now();
        return Promise.resolve();
      },
      close() {
        return Promise.resolve();
      },
      abort() {},
    });
  }

  openRead(
    path: string,
    offset: number,
    length: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    // ReadOptions.forResponse changes nothing here: every chunk is a fresh copy.
    const f = this.files.get(normalise(path));
    if (!f) return Promise.resolve(undefined);
    const bytes = concat(f).slice(offset, offset + length);
    return Promise.resolve(
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 65536) {
            controller.enqueue(bytes.slice(i, i + 65536));
          }
          controller.close();
        },
      }),
    );
  }

  truncate(path: string, size: number): Promise<void> {
    const f = this.files.get(normalise(path));
    if (!f) return Promise.reject(new Deno.errors.NotFound(`No such file "${path}"`));
    f.chunks = [concat(f).slice(0, size)];
    f.size = Math.min(f.size, size);
    f.mtimeMs = Date.now();
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    const f = this.files.get(normalise(from));
    if (!f) return Promise.reject(new Deno.errors.NotFound(`No such file "${from}"`));
    this.files.delete(normalise(from));
    this.#mkdirs(to);
    this.files.set(normalise(to), f);
    return Promise.resolve();
  }

  remove(path: string, recursive = false): Promise<boolean> {
    const key = normalise(path);
    if (this.files.delete(key)) return Promise.resolve(true);
    if (!recursive) return Promise.resolve(false);
    if (!this.dirs.has(key)) return Promise.resolve(false);
    for (const k of [...this.files.keys()]) if (k.startsWith(key + "/")) this.files.delete(k);
    for (const d of [...this.dirs]) if (d === key || d.startsWith(key + "/")) this.dirs.delete(d);
    return Promise.resolve(true);
  }

  openCounter(path: string): ChangeCounter {
    const key = normalise(path);
    const file = () => {
      let f = this.files.get(key);
      if (!f) {
        f = { chunks: [], size: 0, mtimeMs: Date.now() };
        this.#mkdirs(path);
        this.files.set(key, f);
      }
      return f;
    };
    file();
    return {
      value: () => file().size,
      bump: () => {
        const f = file();
        f.chunks.push(new Uint8Array(1));
        f.size++;
        f.mtimeMs = Date.now();
      },
    };
  }

  list(dir: string): Promise<DirEntry[]> {
    const prefix = normalise(dir) === "" ? "" : normalise(dir) + "/";
    const out: DirEntry[] = [];
    const direct = (key: string) =>
      key.startsWith(prefix) && !key.slice(prefix.length).includes("/");
    for (const key of this.files.keys()) {
      if (direct(key)) out.push({ name: key.slice(prefix.length), isDirectory: false });
    }
    for (const d of this.dirs) {
      if (direct(d)) out.push({ name: d.slice(prefix.length), isDirectory: true });
    }
    return Promise.resolve(out);
  }
}

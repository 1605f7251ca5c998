/**
 * The k0s binaries kept in the registry storage for child clusters (`files/k0s/` in
 * `layout.ts`), on the same {@link StorageDriver} as the registry: a binary streams into
 * `uploads/<uuid>` (fsynced), is renamed into place only when its writer commits it (after a
 * signature check), and is read back whole or by range for the files listener.
 */
import { IncrementalHash } from "../../hash/sha.ts";
import { DiskDriver } from "./disk_driver.ts";
import type { FileInfo, StorageDriver } from "./driver.ts";
import { isK0sBinaryName, SIGNATURE_SUFFIX } from "../names.ts";
import { layout } from "./layout.ts";

/** A stored k0s binary, as `registry status` lists it. */
export interface K0sBinaryInfo {
  name: string;
  size: number;
  /** True when its `.sig` is stored beside it. */
  signature: boolean;
}

/** A binary written to the uploads area, not yet visible. Call `commit` or `discard` once. */
export interface StagedK0sBinary {
  readonly name: string;
  readonly size: number;
  /**
   * Moves the binary into place. Its signature (the `.sig` file's bytes) is written beside it;
   * without one, a `.sig` left by an earlier binary of that name is removed (it would not match).
   */
  commit(signature?: Uint8Array): Promise<void>;
  /** Removes the staged data. */
  discard(): Promise<void>;
}

/** The k0s binaries of one registry storage; see the module comment. */
export class K0sBinaryStore {
  /** SHA-256 of stored files, by name, valid while their size and time are unchanged. */
  #hashes = new Map<
    string,
    { size: number; mtimeMs: number; sha256: Promise<string | undefined> }
  >();

  constructor(readonly driver: StorageDriver) {}

  /**
   * The lowercase hex SHA-256 of a stored file (`fileName` as served), or undefined when absent.
   * Computed once per file version (size and modification time) and kept in memory, so the
   * files listener's `SHA256SUMS` and a replica's comparison do not read 250 MB binaries again;
   * callers asking while it is computed share that computation.
   */
  async sha256(fileName: string): Promise<string | undefined> {
    const info = await this.stat(fileName);
    if (!info) return undefined;
    const known = this.#hashes.get(fileName);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) return known.sha256;
    const sha256 = this.#hash(fileName, info.size);
    const entry = { size: info.size, mtimeMs: info.mtimeMs, sha256 };
    this.#hashes.set(fileName, entry);
    // A failed read is not remembered.
    sha256.catch(() => this.#hashes.get(fileName) === entry && this.#hashes.delete(fileName));
    return await sha256;
  }

  async #hash(fileName: string, size: number): Promise<string | undefined> {
    const stream = await this.open(fileName, { offset: 0, length: size });
    if (!stream) return undefined;
    const hash = new IncrementalHash();
    for await (const chunk of stream) hash.update(chunk);
    return hash.hex();
  }

  /**
   * `SHA256SUMS` of every stored binary and `.sig`, in `sha256sum` format (`<hex>  <name>`),
   * sorted by name: what a replica (`registry --sync-from`) copies and checks the files by.
   */
  async sha256Sums(): Promise<string> {
    const lines: string[] = [];
    for (const binary of await this.list()) {
      const names = [binary.name, ...(binary.signature ? [binary.name + SIGNATURE_SUFFIX] : [])];
      for (const name of names) {
        const sha256 = await this.sha256(name);
        if (sha256) lines.push(`${sha256}  ${name}\n`);
      }
    }
    return lines.join("");
  }

  /**
   * Streams `body` into the uploads area as binary `name`, handing every chunk to `onChunk`
   * (a signature check) on the way. Nothing is left behind when the body or a write fails.
   */
  async stage(
    name: string,
    body: ReadableStream<Uint8Array>,
    onChunk?: (chunk: Uint8Array) => void,
  ): Promise<StagedK0sBinary> {
    if (!isK0sBinaryName(name)) throw new Error(`Invalid k0s binary name "${name}"`);
    const driver = this.driver;
    const hashes = this.#hashes;
    const upload = layout.upload(crypto.randomUUID());
    const handle = (await driver.openAppend(upload, true))!;
    let size = 0;
    try {
      for await (const chunk of body) {
        onChunk?.(chunk);
        await handle.write(chunk);
        size += chunk.length;
      }
    } catch (err) {
      handle.abort();
      await driver.remove(upload);
      throw err;
    }
    try {
      await handle.close(true);
    } catch (err) {
      await driver.remove(upload);
      throw err;
    }
    let settled = false;
    const settle = () => {
      if (settled) {
        throw new Error(`Staged k0s binary "${name}" was already committed or discarded`);
      }
      settled = true;
    };
    return {
      name,
      size,
      async commit(signature?: Uint8Array) {
        settle();
        // Another process's change is seen by size and time; this one's is known for sure.
        hashes.delete(name);
        hashes.delete(name + SIGNATURE_SUFFIX);
        const sig = layout.k0sFile(name + SIGNATURE_SUFFIX);
        // The old signature goes first, so a binary is never beside one that is not its own.
        await driver.remove(sig);
        try {
          await driver.rename(upload, layout.k0sFile(name));
        } catch (err) {
          await driver.remove(upload);
          throw err;
        }
        if (signature?.length) await driver.writeFile(sig, signature);
      },
      async discard() {
        if (settled) return;
        settled = true;
        await driver.remove(upload);
      },
    };
  }

  /** Size and time of a stored binary or `.sig` (`fileName` as served), or undefined. */
  async stat(fileName: string): Promise<FileInfo | undefined> {
    const info = await this.driver.stat(layout.k0sFile(fileName));
    return info && !info.isDirectory ? info : undefined;
  }

  /** Streams a stored file, whole or `length` bytes from `offset`; undefined when absent. */
  async open(
    fileName: string,
    range?: { offset: number; length: number },
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    const info = await this.stat(fileName);
    if (!info) return undefined;
    return await this.driver.openRead(
      layout.k0sFile(fileName),
      range?.offset ?? 0,
      range?.length ?? info.size,
    );
  }

  /** The bytes of a stored `.sig`, or undefined. */
  async readSignature(name: string): Promise<Uint8Array | undefined> {
    return await this.driver.readFile(layout.k0sFile(name + SIGNATURE_SUFFIX));
  }

  /** Removes a stored binary and its `.sig` (`registry gc --keep-bundles`); false when absent. */
  async remove(name: string): Promise<boolean> {
    this.#hashes.delete(name);
    this.#hashes.delete(name + SIGNATURE_SUFFIX);
    await this.driver.remove(layout.k0sFile(name + SIGNATURE_SUFFIX));
    return await this.driver.remove(layout.k0sFile(name));
  }

  /** The stored binaries, sorted by name. */
  async list(): Promise<K0sBinaryInfo[]> {
    const entries = await this.driver.list(layout.k0sFiles());
    const names = new Set(entries.filter((e) => !e.isDirectory).map((e) => e.name));
    const out: K0sBinaryInfo[] = [];
    for (const name of [...names].filter(isK0sBinaryName).sort()) {
      const info = await this.stat(name);
      if (info) out.push({ name, size: info.size, signature: names.has(name + SIGNATURE_SUFFIX) });
    }
    return out;
  }
}

/** The k0s binaries of the storage directory `dir`. */
export function openK0sBinaryStore(dir: string): K0sBinaryStore {
  return new K0sBinaryStore(new DiskDriver(dir));
}

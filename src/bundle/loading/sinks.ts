/**
 * The {@link BlobSink}s of the pass: {@link StoreSink} writes new blobs into the registry
 * storage (hashed while written, digest and size checked by the storage; room claimed from a
 * free-space guard first) and reads past blobs it already has; {@link HashSink} only hashes and checks (verify); {@link DrainSink} only
 * reads past (inspect).
 */
import { IncrementalHash } from "../../hash/sha.ts";
import { parseDigest } from "../../registry/digest.ts";
import { RegistryError } from "../../registry/errors.ts";
import type { RegistryStorage } from "../../registry/storage/storage.ts";
import type { FreeSpaceGuard } from "./free_space.ts";
import { ArchiveError, type BlobSink } from "../reading/oci_archive.ts";
import { skipBody } from "../reading/tar_walk.ts";

/** Counts of what a sink did. */
export interface SinkStats {
  /** Blobs written (new). */
  stored: number;
  storedBytes: number;
  /** Blobs read past because they were already there (or already seen in this pass). */
  present: number;
  presentBytes: number;
}

function mismatch(digest: string, detail: string): ArchiveError {
  return new ArchiveError(`blob "${digest}" is corrupt: ${detail}`);
}

/** Stores blobs in the registry storage; remembers what it added (to undo a failed load). */
export class StoreSink implements BlobSink {
  readonly stats: SinkStats = { stored: 0, storedBytes: 0, present: 0, presentBytes: 0 };
  /** Digests this sink wrote that were not stored before. */
  readonly added: string[] = [];

  /** `guard`, when given, is asked for room before each new blob is written. */
  constructor(readonly storage: RegistryStorage, readonly guard?: FreeSpaceGuard) {}

  async put(digest: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    if (await this.storage.hasBlob(digest)) {
      await skipBody(body);
      this.stats.present++;
      this.stats.presentBytes += size;
      return;
    }
    await this.guard?.claim(size);
    try {
      await this.storage.putBlob(body, { digest, size });
    } catch (err) {
      if (err instanceof RegistryError && /DIGEST_INVALID|SIZE_INVALID/.test(err.code)) {
        throw mismatch(digest, err.message);
      }
      throw err;
    }
    this.added.push(digest);
    this.stats.stored++;
    this.stats.storedBytes += size;
  }

  async read(digest: string): Promise<Uint8Array | undefined> {
    const blob = await this.storage.openBlob(digest);
    return blob ? new Uint8Array(await new Response(blob.stream).arrayBuffer()) : undefined;
  }

  /** Removes every blob this sink added (after a failed signature check). */
  async undo(): Promise<void> {
    for (const digest of this.added) await this.storage.deleteBlob(digest);
    this.added.length = 0;
  }
}

/** Hashes every blob and checks digest and size; writes nothing. */
export class HashSink implements BlobSink {
  readonly stats: SinkStats = { stored: 0, storedBytes: 0, present: 0, presentBytes: 0 };

  async put(digest: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    const { algorithm, hex } = parseDigest(digest);
    const hash = new IncrementalHash(algorithm);
    let n = 0;
    for await (const chunk of body) {
      hash.update(chunk);
      n += chunk.length;
    }
    if (n !== size) throw mismatch(digest, `${n} bytes, expected ${size}`);
    const got = hash.hex();
    if (got !== hex) throw mismatch(digest, `content has digest "${algorithm}:${got}"`);
    this.stats.present++;
    this.stats.presentBytes += size;
  }

  read(): Promise<Uint8Array | undefined> {
    return Promise.resolve(undefined);
  }
}

/** Reads past every blob (inspect). */
export class DrainSink implements BlobSink {
  async put(_digest: string, _size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    await skipBody(body);
  }

  read(): Promise<Uint8Array | undefined> {
    return Promise.resolve(undefined);
  }
}

/**
 * What a bundle load leaves in the storage directory (`<storage>/bundle/`, drawn with the rest
 * of the storage in `src/registry/storage/layout.ts`): the journal of each bundle (a rerun of a
 * complete bundle checks its tags and stops without reading the bundle; `records.ts` reads them
 * all, `registry gc --keep-bundles` removes those of the bundles it collected), the status of
 * the latest load (read by `registry status`) and the in-use mark (`in_use.ts`). Journal and
 * status are read and written through the storage's driver (atomic writes), so a load runs on
 * any driver.
 */
import { join, resolve } from "node:path";
import type { StorageDriver } from "../../registry/storage/driver.ts";
import { layout } from "../../registry/storage/layout.ts";
import { hashText } from "../../hash/sha.ts";
import type { StoredK0sBinary } from "./k0s_binaries.ts";
import type { BundleInfo } from "../reading/source.ts";

/** One tagged reference. */
export interface LoadedRef {
  repository: string;
  tag: string;
  digest: string;
}

/** The journal of one bundle in one storage. */
export interface LoadJournal {
  bundle: string;
  size: number;
  mtimeMs: number;
  prefix: string;
  state: "loading" | "complete";
  startedAt: string;
  finishedAt?: string;
  /** How the signature was checked by the load that completed ("off" when it was not). */
  verified?: "native" | "cosign" | "off";
  k0rdentVersion?: string;
  /** Archives seen by the last complete pass (progress total of a rerun). */
  archives?: number;
  /** Bytes of blobs stored so far by loads of this bundle (disk preflight of a resume). */
  storedBytes?: number;
  refs?: LoadedRef[];
  /** k0s binaries the bundle held, stored by the load that completed. */
  k0sBinaries?: StoredK0sBinary[];
  /** k0s binaries lying beside the bundle, stored after the load (gc removes them with it). */
  k0sBinariesBeside?: StoredK0sBinary[];
}

/** Progress and outcome of the latest load, for `registry status`. */
export interface LoadStatus {
  bundle: string;
  state: "verifying" | "loading" | "tagging" | "complete" | "failed";
  bytesRead: number;
  bytesTotal: number;
  /** Bytes of blobs written by this load so far (new to the storage). */
  bytesStored?: number;
  /** Bytes of blobs read past because the storage already had them (reused). */
  bytesPresent?: number;
  imagesDone: number;
  imagesTotal?: number;
  startedAt: string;
  updatedAt: string;
  error?: string;
  k0rdentVersion?: string;
  pid: number;
}

/** `<storage>/bundle` (`layout.bundleState`). */
export function bundleStateDir(storage: string): string {
  return join(storage, layout.bundleState());
}

/** `<storage>/bundle/in_use.json` (`layout.inUse`): the k0rdent version marked in use. */
export function inUsePath(storage: string): string {
  return join(storage, layout.inUse());
}

/** The journal of `info` loaded with `prefix`: its path in the storage (`layout.bundleJournal`). */
export function journalFile(info: BundleInfo, prefix: string): string {
  const id = hashText(JSON.stringify([resolve(info.path), info.size, info.mtimeMs, prefix]))
    .slice(0, 24);
  return layout.bundleJournal(id);
}

async function readJson<T>(driver: StorageDriver, file: string): Promise<T | undefined> {
  try {
    const bytes = await driver.readFile(file);
    return bytes ? JSON.parse(new TextDecoder().decode(bytes)) as T : undefined;
  } catch {
    return undefined;
  }
}

function writeJson(driver: StorageDriver, file: string, value: unknown): Promise<void> {
  return driver.writeFile(file, new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"));
}

/** Reads the journal at `file` (a `layout.bundleJournal` path), or undefined. */
export function readJournal(driver: StorageDriver, file: string): Promise<LoadJournal | undefined> {
  return readJson<LoadJournal>(driver, file);
}

/** Writes a journal atomically. */
export function writeJournal(
  driver: StorageDriver,
  file: string,
  journal: LoadJournal,
): Promise<void> {
  return writeJson(driver, file, journal);
}

/** Reads the latest load status of the storage, or undefined. */
export function readLoadStatus(driver: StorageDriver): Promise<LoadStatus | undefined> {
  return readJson<LoadStatus>(driver, layout.bundleStatus());
}

/** Writes the load status atomically. */
export function writeLoadStatus(driver: StorageDriver, status: LoadStatus): Promise<void> {
  return writeJson(driver, layout.bundleStatus(), status);
}

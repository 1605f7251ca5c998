/**
 * The storage drivers every storage behaviour suite runs against (disk in a temp dir, memory),
 * and the leftover check those suites end each case with.
 */
import assert from "node:assert/strict";
import { DiskDriver } from "../../src/registry/storage/disk_driver.ts";
import type { StorageDriver } from "../../src/registry/storage/driver.ts";
import { MemoryDriver } from "../../src/registry/storage/memory_driver.ts";

/** A driver to run a case on, and how to throw it away. */
export interface DriverFixture {
  driver: StorageDriver;
  cleanup(): Promise<void>;
}

/** The disk driver (on a fresh temp dir) and the memory driver. */
export const STORAGE_DRIVERS: { name: string; make(): Promise<DriverFixture> }[] = [
  {
    name: "disk",
    async make() {
      const dir = await Deno.makeTempDir({ prefix: "registry-storage-" });
      return {
        driver: new DiskDriver(dir),
        cleanup: () => Deno.remove(dir, { recursive: true }),
      };
    },
  },
  {
    name: "memory",
    make() {
      return Promise.resolve({ driver: new MemoryDriver(), cleanup: () => Promise.resolve() });
    },
  },
];

/** Every file under the root, recursively, through the driver itself. */
export async function allFiles(driver: StorageDriver, dir = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await driver.list(dir)) {
    const path = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await allFiles(driver, path));
    else out.push(path);
  }
  return out;
}

/** Fails when temp files (`.` names) or upload data are left anywhere under the root. */
export async function assertNoLeftovers(driver: StorageDriver): Promise<void> {
  const left = (await allFiles(driver)).filter((p) =>
    p.startsWith("uploads/") || p.split("/").pop()!.startsWith(".")
  );
  assert.deepEqual(left, [], "temp files or uploads left behind");
}

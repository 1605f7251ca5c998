import assert from "node:assert/strict";
import { MemoryDriver } from "./memory_driver.ts";
import { MetadataIndex } from "./metadata_index.ts";
import { RegistryStorage } from "./storage.ts";
import { storeManifest } from "../../../tests/helpers/store_image.ts";

Deno.test("metadata index: a write through one storage object reaches the next read of another on the same files", async () => {
  const driver = new MemoryDriver();
  const writer = new RegistryStorage(driver);
  const reader = new RegistryStorage(driver);
  const a = await storeManifest(writer, "r", "amd64", "v1");
  assert.equal(await reader.resolveTag("r", "v1"), a.digest);
  assert.equal(await reader.resolveTag("r", "v2"), undefined);
  const b = await storeManifest(writer, "r", "arm64", "v2");
  await writer.tagManifest("r", "v1", b.digest);
  assert.equal(await reader.resolveTag("r", "v1"), b.digest);
  assert.equal(await reader.resolveTag("r", "v2"), b.digest);
  assert.ok(await writer.unlinkBlob("r", b.layer.digest));
  assert.equal(await reader.statRepoBlob("r", b.layer.digest), undefined);
  assert.ok(await writer.deleteManifest("r", a.digest));
  assert.equal(await reader.getManifest("r", a.digest), undefined);
});

Deno.test("metadata index: hits need no load; a lookup that was loading when a change landed is not kept", async () => {
  const index = new MetadataIndex(new MemoryDriver());
  let loads = 0;
  const load = (value: string | null) => () => {
    loads++;
    return Promise.resolve(value);
  };
  assert.equal(await index.tag("r", "t", load("sha256:1")), "sha256:1");
  assert.equal(await index.tag("r", "t", load("sha256:x")), "sha256:1");
  assert.equal(loads, 1);
  // The file changes while a lookup reads the old one.
  index.changed("r", { tag: "t" });
  let release!: () => void;
  const slow = index.tag("r", "t", async () => {
    loads++;
    await new Promise<void>((r) => release = r);
    return "sha256:old";
  });
  index.changed("r", { tag: "t" });
  release();
  assert.equal(await slow, "sha256:old");
  assert.equal(await index.tag("r", "t", load("sha256:new")), "sha256:new");
  assert.equal(loads, 3);
  assert.equal(index.size, 1);
});

Deno.test("metadata index: a change whose bump fails (a full disk) is still forgotten here", async () => {
  let full = false;
  /** A memory driver whose counter's append fails while `full`, as an ENOSPC write would. */
  class FullDiskDriver extends MemoryDriver {
    override openCounter(path: string) {
      const counter = super.openCounter(path);
      return {
        value: () => counter.value(),
        bump: () => {
          if (full) throw new Error("No space left on device (os error 28)");
          counter.bump();
        },
      };
    }
  }
  const index = new MetadataIndex(new FullDiskDriver());
  assert.equal(await index.tag("r", "t", () => Promise.resolve("sha256:1")), "sha256:1");
  full = true;
  assert.throws(() => index.changed("r", { tag: "t" }), /No space left/);
  // The tag was removed on disk before the failed bump: the next read must not answer the old one.
  assert.equal(await index.tag("r", "t", () => Promise.resolve(null)), null);
});

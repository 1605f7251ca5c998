// readBundleRecords() over journals written to a storage (disk and memory drivers): grouping,
// order, what is ignored.
import assert from "node:assert/strict";
import { STORAGE_DRIVERS } from "../../../tests/helpers/storage_drivers.ts";
import { layout } from "../../registry/storage/layout.ts";
import { type LoadJournal, writeJournal } from "./load_state.ts";
import { readBundleRecords, versionKey, versionsByTag } from "./records.ts";

function journal(
  k0rdentVersion: string | undefined,
  tags: string[],
  extra: Partial<LoadJournal> = {},
): LoadJournal {
  return {
    bundle: `/media/airgap-bundle-${k0rdentVersion}.tar.gz`,
    size: 1,
    mtimeMs: 0,
    prefix: "p",
    state: "complete",
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    k0rdentVersion,
    refs: tags.map((t) => ({ repository: "p/app", tag: t, digest: `sha256:${"a".repeat(64)}` })),
    k0sBinaries: [],
    ...extra,
  };
}

Deno.test("versionKey() reads SemVer as journals and markInUse hold it", () => {
  assert.equal(versionKey("1.2.0"), "1.2.0");
  assert.equal(versionKey("v1.2.0"), "1.2.0");
  assert.equal(versionKey("1.2.0_build.7"), "1.2.0");
  assert.equal(versionKey("1.2.0-rc.1"), "1.2.0-rc.1");
  assert.equal(versionKey("latest"), undefined);
  assert.equal(versionKey(undefined), undefined);
});

for (const { name, make } of STORAGE_DRIVERS) {
  Deno.test(`readBundleRecords() groups journals by version, newest SemVer first, unknown last (${name})`, async () => {
    const { driver, cleanup } = await make();
    try {
      const write = (id: string, j: LoadJournal) =>
        writeJournal(driver, layout.bundleJournal(id), j);
      await write("a", journal("1.9.0", ["a", "b"]));
      await write("b", journal("1.10.0", ["b", "c"]));
      // The same version from another path, and a rebuild: one version.
      await write("c", journal("1.10.0", ["c", "d"], { finishedAt: "2026-02-01T00:00:00.000Z" }));
      await write("d", journal("1.10.0_build.2", ["e"]));
      await write("e", journal(undefined, ["u"]));
      await write("f", journal("2.0.0", ["x"], { state: "loading" }));
      await driver.writeFile(layout.bundleJournal("g"), new TextEncoder().encode("{not json"));
      const records = await readBundleRecords(driver);
      assert.deepEqual(records.map((r) => r.version), ["1.10.0", "1.9.0", undefined]);
      const [ten] = records;
      assert.deepEqual(ten.journals, ["b", "c", "d"].map((id) => layout.bundleJournal(id)));
      assert.deepEqual(ten.refs.map((r) => r.tag), ["b", "c", "d", "e"]);
      assert.equal(ten.loadedAt, "2026-02-01T00:00:00.000Z");
      assert.deepEqual(Object.fromEntries(versionsByTag(records)), {
        "p/app:a": ["1.9.0"],
        "p/app:b": ["1.10.0", "1.9.0"],
        "p/app:c": ["1.10.0"],
        "p/app:d": ["1.10.0"],
        "p/app:e": ["1.10.0"],
        "p/app:u": ["unknown"],
      });
    } finally {
      await cleanup();
    }
  });

  Deno.test(`readBundleRecords() of a storage without journals is empty (${name})`, async () => {
    const { driver, cleanup } = await make();
    try {
      assert.deepEqual(await readBundleRecords(driver), []);
    } finally {
      await cleanup();
    }
  });
}

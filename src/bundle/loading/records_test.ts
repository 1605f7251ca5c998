// readBundleRecords() over journals written to a temp storage: grouping, order, what is ignored.
import assert from "node:assert/strict";
import { join } from "node:path";
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

Deno.test("readBundleRecords() groups journals by version, newest SemVer first, unknown last", async () => {
  const storage = await Deno.makeTempDir();
  try {
    const write = (id: string, j: LoadJournal) =>
      writeJournal(join(storage, layout.bundleJournal(id)), j);
    await write("a", journal("1.9.0", ["a", "b"]));
    await write("b", journal("1.10.0", ["b", "c"]));
    // The same version from another path, and a rebuild: one version.
    await write("c", journal("1.10.0", ["c", "d"], { finishedAt: "2026-02-01T00:00:00.000Z" }));
    await write("d", journal("1.10.0_build.2", ["e"]));
    await write("e", journal(undefined, ["u"]));
    await write("f", journal("2.0.0", ["x"], { state: "loading" }));
    await Deno.writeTextFile(join(storage, layout.bundleJournal("g")), "{not json");
    const records = await readBundleRecords(storage);
    assert.deepEqual(records.map((r) => r.version), ["1.10.0", "1.9.0", undefined]);
    const [ten] = records;
    assert.equal(ten.journals.length, 3);
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
    assert.deepEqual(await readBundleRecords(join(storage, "none")), []);
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

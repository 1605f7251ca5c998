/** Tests of readBuildInfo(): online default from source, a valid air-gap file, and clear errors. */
import assert from "node:assert/strict";
import { join } from "node:path";
import denoJson from "../../deno.json" with { type: "json" };
import { UserError } from "../errors.ts";
import { assetsDir, readBuildInfo } from "./build_info.ts";

const ASSET = {
  name: "k0s",
  file: "k0s.br",
  version: "v1.32.8+k0s.0",
  size: 10,
  sha256: "a".repeat(64),
  compressedSize: 5,
  compressedSha256: "b".repeat(64),
  compression: "brotli",
};

async function withFile(content: string, fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "k0rdentd-build-info-" });
  try {
    await Deno.writeTextFile(join(dir, "build-info.json"), content);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("readBuildInfo() is the online flavor with the deno.json version when there is no file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await readBuildInfo(dir), {
      flavor: "online",
      version: denoJson.version,
      assets: [],
    });
  } finally {
    await Deno.remove(dir);
  }
});

Deno.test("readBuildInfo() reads an air-gap file; assetsDir() honours K0RDENTD_ASSETS_DIR", async () => {
  const info = {
    flavor: "airgap",
    version: "0.1.0",
    k0sVersion: "v1.32.8+k0s.0",
    buildTime: "2026-01-01T00:00:00.000Z",
    target: "x86_64-unknown-linux-gnu",
    assets: [ASSET],
  };
  await withFile(JSON.stringify(info), async (dir) => {
    Deno.env.set("K0RDENTD_ASSETS_DIR", dir);
    try {
      assert.equal(assetsDir(), dir);
      assert.deepEqual(await readBuildInfo(), info);
    } finally {
      Deno.env.delete("K0RDENTD_ASSETS_DIR");
    }
  });
});

Deno.test("readBuildInfo() rejects damaged metadata with the file and field named", async () => {
  const cases: [unknown, RegExp][] = [
    [{ flavor: "lite", version: "1", assets: [] }, /: flavor: /],
    [
      { flavor: "airgap", version: "1", assets: [{ ...ASSET, sha256: "xyz" }] },
      /: assets\.0\.sha256: expected 64 hex digits$/,
    ],
    [{ flavor: "airgap", version: "1", assets: [{ ...ASSET, size: -1 }] }, /: assets\.0\.size: /],
    [
      { flavor: "airgap", version: "1", assets: [{ ...ASSET, compression: "zstd" }] },
      /: assets\.0\.compression: /,
    ],
  ];
  for (const [content, pattern] of cases) {
    await withFile(JSON.stringify(content), async (dir) => {
      await assert.rejects(readBuildInfo(dir), (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, /^Cannot read build metadata ".*build-info\.json": /);
        assert.match(err.message, pattern);
        return true;
      });
    });
  }
  await withFile("{not json", async (dir) => {
    await assert.rejects(readBuildInfo(dir), /^UserError: Cannot read build metadata ".*": /);
  });
});

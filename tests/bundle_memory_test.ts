/**
 * Memory bounds of `bundle load`, run as a CLI subprocess whose peak RSS (VmHWM) is sampled:
 * bundles of a few hundred KiB that inflate to hundreds of MiB must not take memory in
 * proportion. Each blob is larger than the bound asserted, so holding it whole would fail.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import {
  blob,
  type BundleEntry,
  chartArchive,
  chartLayer,
  descriptor,
  imageArchive,
  indexFor,
  MEDIA,
  randomLayer,
  streamedDescriptor,
  streamedOciArchive,
  writeBundle,
  zerosBlob,
} from "./fixtures/make_bundle.ts";
import { runCli } from "./helpers/cli.ts";

const MiB = 1024 * 1024;
/** Size of the zero-filled blob of each bundle. */
const BIG = 384 * MiB;
/** Peak RSS allowed: well under {@link BIG}; a load of a tiny bundle peaks at ~80 MiB. */
const RSS_LIMIT = 256 * MiB;

/** Writes a .tar.gz of a small good image and `entries`, loads it, and returns the CLI result. */
async function loadMeasured(dir: string, entries: BundleEntry[], ...flags: string[]) {
  const bundle = join(dir, "b.tar.gz");
  const good = { name: "good_1.0.tar", data: await imageArchive([await randomLayer(99, 99)]) };
  await writeBundle(bundle, [good, ...entries], "tar.gz");
  assert.ok((await Deno.stat(bundle)).size < 4 * MiB, "the bundle is small");
  const storage = join(dir, "storage");
  const res = await runCli(
    ["bundle", "load", bundle, "--storage", storage, "--verify=false", ...flags],
    { measureRss: true },
  );
  return { bundle, storage, res, rss: res.peakRssBytes! };
}

/** The last line of the output (after the --verify=false warning). */
function lastLine(text: string) {
  return text.trim().split("\n").pop();
}

function mib(n: number) {
  return `${(n / MiB).toFixed(0)} MiB`;
}

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "bundle-mem-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bundle load: an image layer of 384 MiB of zeros in a small .tar.gz loads in bounded memory", () =>
  withDir(async (dir) => {
    const zeros = await zerosBlob("application/vnd.oci.image.layer.v1.tar", BIG);
    const config = blob(MEDIA.config, JSON.stringify({ architecture: "amd64", os: "linux" }));
    const manifest = blob(
      MEDIA.manifest,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: descriptor(config),
        layers: [streamedDescriptor(zeros)],
      }),
    );
    const archive = streamedOciArchive(indexFor(manifest), [manifest, config, zeros]);
    const { res, rss } = await loadMeasured(dir, [{ name: "capi/zeros_1.0.tar", body: archive }]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(rss > 0, "RSS was sampled");
    assert.ok(rss < RSS_LIMIT, `peak RSS ${mib(rss)} >= ${mib(RSS_LIMIT)}`);
  }));

Deno.test("bundle load: a chart whose Chart.yaml inflates to 384 MiB fails in one line, in bounded memory", () =>
  withDir(async (dir) => {
    const layer = await chartLayer("k0rdent-enterprise", "1.2.3", BIG);
    const { archive } = await chartArchive("k0rdent-enterprise", "1.2.3", layer);
    const { bundle, storage, res, rss } = await loadMeasured(dir, [
      { name: "charts/k0rdent-enterprise_1.2.3.tar", data: archive },
    ]);
    assert.equal(res.code, 1, res.stderr);
    assert.equal(
      lastLine(res.stderr),
      `ERROR Cannot read bundle "${bundle}": chart "charts/k0rdent-enterprise_1.2.3.tar": ` +
        `"k0rdent-enterprise/Chart.yaml" has ${BIG + 82} bytes; a Chart.yaml may have 1048576`,
    );
    assert.ok(rss < RSS_LIMIT, `peak RSS ${mib(rss)} >= ${mib(RSS_LIMIT)}`);
    assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "nothing tagged");
  }));

Deno.test("bundle load: a 384 MiB manifest or config is refused by its size, in bounded memory", () =>
  withDir(async (dir) => {
    const layer = await randomLayer(1000, 3);
    for (const kind of ["manifest", "config"] as const) {
      const big = await zerosBlob(kind === "config" ? MEDIA.config : MEDIA.manifest, BIG);
      const manifest = blob(
        MEDIA.manifest,
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA.manifest,
          config: streamedDescriptor(big),
          layers: [descriptor(layer)],
        }),
      );
      const archive = kind === "config"
        ? streamedOciArchive(indexFor(manifest), [manifest, big, layer])
        : streamedOciArchive(
          { schemaVersion: 2, mediaType: MEDIA.index, manifests: [streamedDescriptor(big)] },
          [big],
        );
      const sub = join(dir, kind);
      await Deno.mkdir(sub);
      const { bundle, storage, res, rss } = await loadMeasured(sub, [
        { name: "capi/big_1.0.tar", body: archive },
      ]);
      assert.equal(res.code, 1, res.stderr);
      const what = kind === "config"
        ? `config "${big.digest}" of manifest "${manifest.digest}"`
        : `manifest "${big.digest}"`;
      assert.equal(
        lastLine(res.stderr),
        `ERROR Cannot read bundle "${bundle}": archive "capi/big_1.0.tar" ${what} has ${BIG} ` +
          `bytes; at most ${4 * MiB} are accepted`,
      );
      assert.ok(rss < RSS_LIMIT, `${kind}: peak RSS ${mib(rss)} >= ${mib(RSS_LIMIT)}`);
      assert.deepEqual(await openDiskStorage(storage).listRepositories(), [], "nothing tagged");
    }
  }));

import assert from "node:assert/strict";
import {
  bytesBody,
  chartLayer,
  gzipBytes,
  streamedTar,
  zeros,
} from "../../../tests/fixtures/make_bundle.ts";
import {
  ChartError,
  MAX_CHART_BYTES,
  MAX_CHART_YAML_BYTES,
  readChartMeta,
  topLevelScalar,
} from "./chart.ts";

Deno.test("topLevelScalar() reads plain, quoted and commented top-level values only", () => {
  const text = [
    "apiVersion: v2",
    "name: k0rdent-enterprise",
    "dependencies:",
    "  - name: sub",
    "    version: 9.9.9",
    'version: "1.2.3" # the chart version',
    "appVersion: '1.2.3'",
  ].join("\n");
  assert.equal(topLevelScalar(text, "version"), "1.2.3");
  assert.equal(topLevelScalar(text, "name"), "k0rdent-enterprise");
  assert.equal(topLevelScalar(text, "appVersion"), "1.2.3");
  assert.equal(topLevelScalar("version: 1.0.0 # c", "version"), "1.0.0");
  assert.equal(topLevelScalar("versions: 1", "version"), undefined);
});

const MiB = 1024 * 1024;

Deno.test("readChartMeta() reads name and version; undefined without a Chart.yaml", async () => {
  assert.deepEqual(await readChartMeta(await chartLayer("k0rdent-enterprise", "1.2.3")), {
    name: "k0rdent-enterprise",
    version: "1.2.3",
  });
  // A chart without Chart.yaml has no version.
  const noChart = await gzipBytes(
    streamedTar([{ name: "x/values.yaml", body: bytesBody("a: 1") }]),
  );
  assert.equal(await readChartMeta(noChart), undefined);
});

Deno.test("readChartMeta() refuses a gzip-bombed Chart.yaml by its size, before reading it", async () => {
  const layer = await chartLayer("k0rdent-enterprise", "1.2.3", 64 * MiB);
  assert.ok(layer.length < MiB, "a small layer");
  await assert.rejects(readChartMeta(layer), (err: Error) => {
    assert.ok(err instanceof ChartError, String(err));
    const m = /^"k0rdent-enterprise\/Chart\.yaml" has (\d+) bytes; a Chart\.yaml may have (\d+)$/
      .exec(err.message);
    assert.ok(m, err.message);
    assert.ok(Number(m[1]) > 64 * MiB);
    assert.equal(Number(m[2]), MAX_CHART_YAML_BYTES);
    return true;
  });
});

Deno.test("readChartMeta() stops after MAX_CHART_BYTES decompressed without a Chart.yaml", async () => {
  const layer = await gzipBytes(streamedTar([
    { name: "k0rdent-enterprise/values.yaml", body: zeros(MAX_CHART_BYTES + MiB) },
    { name: "k0rdent-enterprise/Chart.yaml", body: bytesBody("version: 1.2.3\n") },
  ]));
  await assert.rejects(
    readChartMeta(layer),
    (err: Error) =>
      err instanceof ChartError &&
      err.message ===
        `chart layer decompresses to more than ${MAX_CHART_BYTES} bytes before its Chart.yaml`,
  );
});

Deno.test("readChartMeta() turns gzip and tar failures into one-line ChartErrors", async () => {
  const cases: [Uint8Array, string][] = [
    [
      new TextEncoder().encode("not gzip at all"),
      "chart layer: not a gzip stream (incorrect header check)",
    ],
    [
      (await chartLayer("c", "1.0.0")).subarray(0, 60),
      "chart layer: unexpected end of gzip stream (the file is truncated or corrupt)",
    ],
    [
      await gzipBytes(streamedTar([{ name: "../Chart.yaml", body: bytesBody("version: 1") }])),
      'chart layer: entry "../Chart.yaml" has a ".." path component',
    ],
  ];
  for (const [layer, message] of cases) {
    await assert.rejects(
      readChartMeta(layer),
      (err: Error) => err instanceof ChartError && err.message === message,
      message,
    );
  }
});

import assert from "node:assert/strict";
import { openDiskStorage } from "../registry/storage/storage.ts";
import { serveAirgapRegistry } from "../../tests/helpers/airgap_registry.ts";
import { storeChart } from "../../tests/helpers/store_image.ts";
import { bytesBody, chartLayer, releaseYaml } from "../../tests/fixtures/make_bundle.ts";
import {
  fetchReleaseManifest,
  MAX_RELEASE_YAML_BYTES,
  parseReleaseManifest,
  releaseNameFromVersion,
} from "./release_manifest.ts";
import { needsTools } from "../../tests/helpers/tools.ts";

const REPO = "k0rdent-enterprise/charts/kcm-templates";

Deno.test("releaseNameFromVersion() names Releases as kcm does", () => {
  assert.equal(releaseNameFromVersion("1.2.0"), "kcm-1-2-0");
  assert.equal(releaseNameFromVersion("v1.3.0-rc1"), "kcm-1-3-0-rc1");
  assert.equal(releaseNameFromVersion("1.2.3+Build.5"), "kcm-1-2-3-build-5");
});

Deno.test("parseReleaseManifest() reads name and version and refuses other objects", () => {
  const release = parseReleaseManifest(releaseYaml("1.3.0"), "test");
  assert.equal(release.name, "kcm-1-3-0");
  assert.equal(release.version, "1.3.0");
  assert.equal(release.yaml, releaseYaml("1.3.0"));
  assert.throws(
    () => parseReleaseManifest("kind: ConfigMap\nmetadata:\n  name: x\n", 'chart "c"'),
    /Cannot read the Release of chart "c": expected kind Release with metadata.name, spec.version/,
  );
  assert.throws(() => parseReleaseManifest("a: [", "x"), /Cannot read the Release of x: /);
  const noCapi = releaseYaml("1.3.0").replace(/ {2}capi:\n {4}template: \S+\n/, "");
  assert.throws(() => parseReleaseManifest(noCapi, "x"), /spec.capi.template/);
});

Deno.test(
  await needsTools(
    "fetchReleaseManifest() pulls kcm-templates over TLS; a missing chart, file or an oversized file is a clear error",
    "openssl",
  ),
  async () => {
    await using registry = await serveAirgapRegistry({
      charts: ["1.2.3"],
      kcmTemplates: true,
      images: [],
    });
    const source = { host: registry.address, repository: REPO, caFile: registry.caFile };
    const release = await fetchReleaseManifest(source, "1.2.3");
    assert.equal(release.name, "kcm-1-2-3");
    assert.equal(release.yaml, releaseYaml("1.2.3"));

    await assert.rejects(
      fetchReleaseManifest(source, "9.9.9"),
      new RegExp(`The registry ${registry.address} holds no chart "${REPO}" version "9.9.9"`),
    );
    const storage = openDiskStorage(registry.storage);
    await storeChart(
      storage,
      REPO,
      "kcm-templates",
      "2.0.0",
      await chartLayer("kcm-templates", "2.0.0"),
    );
    await assert.rejects(
      fetchReleaseManifest(source, "2.0.0"),
      /Chart "\S+kcm-templates:2.0.0" holds no files\/release.yaml/,
    );
    const huge = await chartLayer("kcm-templates", "3.0.0", 0, [
      { name: "files/release.yaml", body: bytesBody("#".repeat(MAX_RELEASE_YAML_BYTES + 1)) },
    ]);
    await storeChart(storage, REPO, "kcm-templates", "3.0.0", huge);
    await assert.rejects(
      fetchReleaseManifest(source, "3.0.0"),
      /Cannot read chart "\S+": "kcm-templates\/files\/release.yaml" has \d+ bytes; at most 262144 are read/,
    );
    // Without the CA the registry's certificate is not trusted.
    await assert.rejects(
      fetchReleaseManifest({ host: registry.address, repository: REPO }, "1.2.3"),
      /Cannot reach registry/,
    );
  },
);

import assert from "node:assert/strict";
import { defaultConfig } from "../../config/defaults.ts";
import { templatesChartSource } from "./k0rdent_release.ts";

Deno.test("templatesChartSource() finds kcm-templates beside the k0rdent chart", () => {
  const config = defaultConfig();
  assert.deepStrictEqual(templatesChartSource(config, false), {
    host: "ghcr.io",
    repository: "k0rdent/kcm/charts/kcm-templates",
  });
  config.airgap.registry.address = "registry.lan:5000";
  config.airgap.registry.prefix = "mirror/k0rdent-enterprise";
  config.airgap.registry.caFile = "/etc/ca.crt";
  const airgap = templatesChartSource(config, true);
  assert.equal(airgap.host, "registry.lan:5000");
  assert.equal(airgap.repository, "mirror/k0rdent-enterprise/charts/kcm-templates");
  assert.equal(airgap.caFile, "/etc/ca.crt");
  config.k0rdent.helm.chart = "https://charts.example/kcm";
  assert.throws(() => templatesChartSource(config, false), /upgrade needs an oci:\/\/ chart/);
});

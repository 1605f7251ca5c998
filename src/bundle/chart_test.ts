import assert from "node:assert/strict";
import { topLevelScalar } from "./chart.ts";

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

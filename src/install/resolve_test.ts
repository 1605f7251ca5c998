import assert from "node:assert/strict";
import { highestVersion } from "./resolve.ts";

Deno.test("highestVersion() prefers the highest release by SemVer, not by text", () => {
  assert.equal(highestVersion(["1.2.3", "1.10.0", "1.9.9"]), "1.10.0");
  assert.equal(highestVersion(["1.2.3", "1.10.0-rc1", "latest"]), "1.2.3");
  assert.equal(highestVersion(["1.0.0-rc1", "1.0.0-rc2"]), "1.0.0-rc2");
  assert.equal(highestVersion(["1.2.3_build.1", "1.2.2"]), "1.2.3+build.1");
  assert.equal(highestVersion(["latest", "v1.2.3"]), undefined);
  assert.equal(highestVersion([]), undefined);
});

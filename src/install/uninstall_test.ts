import assert from "node:assert/strict";
import { checkPurgeTarget } from "./uninstall.ts";

Deno.test("checkPurgeTarget() refuses /, system trees and their parents; allows storage dirs", () => {
  for (const bad of ["/", "//", "/var", "/var/lib/", "/etc/k0rdentd", "/usr/local/r", "/home"]) {
    assert.throws(() => checkPurgeTarget(bad), /Refusing to purge registry.storage/, bad);
  }
  assert.throws(() => checkPurgeTarget("var/registry"), /not an absolute path/);
  for (const ok of ["/var/lib/k0rdentd/registry", "/data/registry", "/home/ops/registry"]) {
    checkPurgeTarget(ok);
  }
});

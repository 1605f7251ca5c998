import assert from "node:assert/strict";
import { UserError } from "../errors.ts";
import { compareK0sVersions, k0sChange, parseK0sVersion } from "./k0s_version.ts";

function v(text: string) {
  const parsed = parseK0sVersion(text);
  if (!parsed) throw new Error(`not a version: ${text}`);
  return parsed;
}

Deno.test("parseK0sVersion() reads k0s and kubelet versions, refuses other text", () => {
  assert.deepStrictEqual(v("v1.32.8+k0s.0"), {
    raw: "v1.32.8+k0s.0",
    kubernetes: "1.32.8",
    major: 1,
    minor: 32,
    build: 0,
  });
  assert.equal(v("v1.33.0-rc.1+k0s.2").kubernetes, "1.33.0-rc.1");
  assert.equal(v("v1.32.8+k0s").build, null);
  for (const bad of ["", "1.32", "v1.32.8+foo.1", "latest", "v1.32.8+k0s.x"]) {
    assert.equal(parseK0sVersion(bad), null, bad);
  }
});

Deno.test("compareK0sVersions() orders by Kubernetes version, then the k0s build", () => {
  const sorted = ["v1.33.0+k0s.0", "v1.32.8+k0s.1", "v1.33.0-rc.0+k0s.0", "v1.32.8+k0s.0"]
    .map(v).sort(compareK0sVersions).map((x) => x.raw);
  assert.deepStrictEqual(sorted, [
    "v1.32.8+k0s.0",
    "v1.32.8+k0s.1",
    "v1.33.0-rc.0+k0s.0",
    "v1.33.0+k0s.0",
  ]);
  // A kubelet version has no build number: it equals every build of its Kubernetes version.
  assert.equal(compareK0sVersions(v("v1.32.8+k0s"), v("v1.32.8+k0s.3")), 0);
  assert.ok(compareK0sVersions(v("v1.32.8+k0s"), v("v1.32.9+k0s.0")) < 0);
});

Deno.test("k0sChange() allows one minor step, refuses skips and (unless allowed) downgrades", () => {
  assert.equal(k0sChange(v("v1.32.8+k0s.0"), v("v1.32.8+k0s.0"), false), "same");
  assert.equal(k0sChange(v("v1.32.8+k0s.0"), v("v1.32.8+k0s.1"), false), "upgrade");
  assert.equal(k0sChange(v("v1.32.8+k0s.0"), v("v1.33.4+k0s.0"), false), "upgrade");
  assert.throws(
    () => k0sChange(v("v1.32.8+k0s.0"), v("v1.34.0+k0s.0"), false),
    (err: Error) =>
      err instanceof UserError &&
      err.message ===
        "Refusing to upgrade k0s from v1.32.8+k0s.0 to v1.34.0+k0s.0: k0s upgrades one minor version at a time (to v1.33.x first)",
  );
  assert.throws(() => k0sChange(v("v1.32.8+k0s.0"), v("v2.0.0+k0s.0"), false), /one minor/);
  assert.throws(
    () => k0sChange(v("v1.33.4+k0s.0"), v("v1.32.8+k0s.0"), false),
    /^UserError: Refusing to downgrade k0s from v1\.33\.4\+k0s\.0 to v1\.32\.8\+k0s\.0: .*--allow-downgrade$/,
  );
  assert.equal(k0sChange(v("v1.33.4+k0s.0"), v("v1.32.8+k0s.0"), true), "downgrade");
});

// k0sFilesURL(): the controller.globalK0sURL value for a host, files port and prefix.
import assert from "node:assert/strict";
import { k0sFilesURL } from "./k0s_files.ts";
import { requestedFile } from "./http/files.ts";

Deno.test("k0sFilesURL() joins host, port and prefix; IPv6 in brackets; no trailing slash", () => {
  assert.equal(
    k0sFilesURL("10.0.0.5", 5080, "k0rdent-enterprise"),
    "http://10.0.0.5:5080/k0rdent-enterprise",
  );
  assert.equal(k0sFilesURL("fd00::5", 5080, "/a/b/"), "http://[fd00::5]:5080/a/b");
  assert.equal(k0sFilesURL("[fd00::5]", 80, ""), "http://[fd00::5]:80");
  assert.equal(k0sFilesURL("node1.internal", 5080, "p"), "http://node1.internal:5080/p");
});

Deno.test("k0sFilesURL() + /k0s-<version>-<arch> (kcm's downloadURL) is what the listener serves", () => {
  for (const prefix of ["k0rdent-enterprise", "", "/a/b/"]) {
    const url = new URL(`${k0sFilesURL("10.0.0.5", 5080, prefix)}/k0s-v1.32.6+k0s.0-amd64`);
    assert.equal(requestedFile(url.pathname, prefix), "k0s-v1.32.6+k0s.0-amd64", prefix);
  }
});

import assert from "node:assert/strict";
import {
  archiveReference,
  fileKind,
  isK0rdentChart,
  loneTopFolder,
  NamingError,
} from "./naming.ts";

const P = "k0rdent-enterprise";

Deno.test("archiveReference() maps name_tag.tar: name before the last _, tag after the first _", () => {
  assert.deepEqual(archiveReference("capi/cluster-api_v1.9.3.tar", P), {
    repository: "k0rdent-enterprise/capi/cluster-api",
    tag: "v1.9.3",
  });
  assert.deepEqual(archiveReference("k0sproject/a_b_c.tar", P), {
    repository: "k0rdent-enterprise/k0sproject/a_b",
    tag: "b_c",
  });
  assert.deepEqual(archiveReference("kcm-controller_1.2.2.tar", P), {
    repository: "k0rdent-enterprise/kcm-controller",
    tag: "1.2.2",
  });
});

Deno.test("archiveReference() accepts name:tag.tar and an empty or slashed prefix", () => {
  assert.deepEqual(archiveReference("k8s/pause:3.10.tar", ""), {
    repository: "k8s/pause",
    tag: "3.10",
  });
  assert.deepEqual(archiveReference("x/y:1.0.tar", "/reg/prefix/"), {
    repository: "reg/prefix/x/y",
    tag: "1.0",
  });
});

Deno.test("archiveReference() falls back to the ref.name annotation, never to latest", () => {
  assert.deepEqual(archiveReference("velero/velero.tar", P, "v1.16.0"), {
    repository: "k0rdent-enterprise/velero/velero",
    tag: "v1.16.0",
  });
  assert.deepEqual(archiveReference("velero/velero.tar", P, "docker.io/velero/velero:v1.2"), {
    repository: "k0rdent-enterprise/velero/velero",
    tag: "v1.2",
  });
  assert.throws(() => archiveReference("velero/velero.tar", P), NamingError);
});

Deno.test("archiveReference() takes no digest from ref.name as a tag (containerd's exports)", () => {
  const hex = "0123456789abcdef".repeat(4);
  assert.deepEqual(archiveReference("velero/velero.tar", P, `v1.16.0@sha256:${hex}`), {
    repository: "k0rdent-enterprise/velero/velero",
    tag: "v1.16.0",
  });
  assert.deepEqual(
    archiveReference("velero/velero.tar", P, `docker.io/velero/velero:v1.2@sha256:${hex}`),
    { repository: "k0rdent-enterprise/velero/velero", tag: "v1.2" },
  );
  assert.throws(
    () => archiveReference("velero/velero.tar", P, `@sha256:${hex}`),
    /annotation "@sha256:0123[0-9a-f]+" names no tag/,
  );
  assert.throws(
    () => archiveReference("velero/velero.tar", P, `docker.io/velero/velero@sha256:${hex}`),
    /not a valid tag/,
  );
});

Deno.test("archiveReference() rejects names that make an invalid repository or tag", () => {
  assert.throws(() => archiveReference("capi/Bad_1.0.tar", P), /not a valid repository name/);
  assert.throws(() => archiveReference("capi/good_bad tag.tar", P), /not a valid tag/);
});

Deno.test("fileKind(), isK0rdentChart() and loneTopFolder() classify bundle paths", () => {
  assert.equal(fileKind("skopeo_1.17.0.tar"), "skopeo");
  assert.equal(fileKind("README.txt"), "other");
  assert.equal(fileKind("capi/x_1.tar"), "archive");
  assert.equal(fileKind("k0s-v1.32.6+k0s.0-amd64"), "k0s");
  assert.equal(fileKind("bin/k0s-v1.32.6+k0s.0-arm64.sig"), "k0s");
  assert.equal(fileKind("k0s-v1.32.6+k0s.0-amd64.tar"), "archive");
  assert.equal(fileKind("k0s-v1.32.6-amd64"), "other");
  assert.equal(fileKind("k0s-v1.32.6+k0s.0-riscv64"), "other");
  assert.ok(isK0rdentChart("charts/k0rdent-enterprise_1.2.3.tar"));
  assert.ok(!isK0rdentChart("charts/kcm_1.2.3.tar"));
  assert.equal(loneTopFolder(["a/x.tar", "a/b/y.tar"]), "a");
  assert.equal(loneTopFolder(["a/x.tar", "b/y.tar"]), "");
  assert.equal(loneTopFolder(["x.tar"]), "");
});

import assert from "node:assert/strict";
import { nodeVersion, parseClusterNodes } from "./cluster_nodes.ts";

const node = (name: string, arch: string, kubelet: string, ready = "True") => ({
  metadata: { name, labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": arch } },
  status: {
    conditions: [{ type: "Ready", status: ready }],
    nodeInfo: { kubeletVersion: kubelet },
  },
});

Deno.test("parseClusterNodes() joins Nodes and ControlNodes, keeps controllers without a Node", () => {
  const nodes = parseClusterNodes(
    { items: [node("c1", "amd64", "v1.32.8+k0s"), node("w1", "arm64", "v1.32.8+k0s", "False")] },
    {
      items: [
        { metadata: { name: "c1" }, status: { k0sVersion: "v1.32.8+k0s.0" } },
        {
          metadata: {
            name: "c2",
            labels: { "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64" },
          },
          status: { k0sVersion: "v1.32.8+k0s.0" },
        },
      ],
    },
  );
  assert.deepStrictEqual(
    nodes.map((n) => [n.name, n.ready, n.platform, n.controller, nodeVersion(n)]),
    [
      ["c1", true, "linux-amd64", true, "v1.32.8+k0s.0"],
      ["w1", false, "linux-arm64", false, "v1.32.8+k0s"],
      ["c2", true, "linux-amd64", true, "v1.32.8+k0s.0"],
    ],
  );
  // Without the ControlNode API (null), every node is a worker by its kubelet version.
  assert.deepStrictEqual(
    parseClusterNodes({ items: [node("n", "amd64", "v1.33.4+k0s")] }, null).map((n) =>
      n.controller
    ),
    [false],
  );
  assert.equal(parseClusterNodes({ items: [{ metadata: { name: "x" } }] }, null)[0].platform, "");
});

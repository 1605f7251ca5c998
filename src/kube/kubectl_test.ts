import assert from "node:assert/strict";
import { parseManagement, parseNodeAddresses, parseNodes } from "./kubectl.ts";

const NODES = JSON.stringify({
  items: [
    {
      metadata: { name: "a" },
      status: {
        addresses: [{ type: "Hostname", address: "a" }, {
          type: "InternalIP",
          address: "10.0.0.1",
        }],
        conditions: [{ type: "MemoryPressure", status: "False" }, {
          type: "Ready",
          status: "True",
        }],
      },
    },
    {
      metadata: { name: "b" },
      status: {
        addresses: [{ type: "ExternalIP", address: "203.0.113.5" }, {
          type: "InternalIP",
          address: "10.0.0.2",
        }],
        conditions: [{ type: "Ready", status: "Unknown" }],
      },
    },
  ],
});

Deno.test("parseNodes() reads each node's Ready condition", () => {
  assert.deepStrictEqual(parseNodes(NODES), [{ name: "a", ready: true }, {
    name: "b",
    ready: false,
  }]);
  assert.deepStrictEqual(parseNodes('{"items":[]}'), []);
});

Deno.test("parseNodeAddresses() lists InternalIPs before ExternalIPs", () => {
  assert.deepStrictEqual(parseNodeAddresses(NODES), ["10.0.0.1", "10.0.0.2", "203.0.113.5"]);
});

Deno.test("parseManagement() counts components and reads the Ready condition", () => {
  const state = parseManagement(JSON.stringify({
    status: {
      components: {
        kcm: { success: true },
        "cluster-api": { success: false, error: "x" },
        velero: {},
      },
      conditions: [{ type: "Ready", status: "False", message: "2 components not ready" }],
    },
  }));
  assert.deepStrictEqual(state, {
    ready: false,
    componentsReady: 1,
    componentsTotal: 3,
    pending: ["cluster-api", "velero"],
    message: "2 components not ready",
  });
  assert.equal(parseManagement("{}").ready, false);
});

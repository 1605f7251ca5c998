import assert from "node:assert/strict";
import { parseManagement, parseNodeAddresses, parseNodes, parseRelease } from "./kubectl.ts";

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
    spec: { release: "kcm-1-3-0" },
    status: {
      release: "kcm-1-2-0",
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
    release: "kcm-1-3-0",
    statusRelease: "kcm-1-2-0",
  });
  assert.equal(parseManagement("{}").ready, false);
  assert.equal(parseManagement("{}").statusRelease, "");
});

Deno.test("parseRelease() reads spec.version, status.ready and conditions that are not True", () => {
  const release = parseRelease(JSON.stringify({
    metadata: { name: "kcm-1-3-0" },
    spec: { version: "1.3.0" },
    status: {
      ready: false,
      conditions: [
        { type: "TemplatesCreated", status: "True", message: "All templates have been created" },
        { type: "TemplatesValid", status: "False", message: "missing or invalid templates: x" },
      ],
    },
  }));
  assert.deepStrictEqual(release, {
    name: "kcm-1-3-0",
    version: "1.3.0",
    ready: false,
    problems: ["TemplatesValid: missing or invalid templates: x"],
  });
  assert.equal(parseRelease(JSON.stringify({ status: { ready: true } })).ready, true);
});

import assert from "node:assert/strict";
import {
  autopilotPlan,
  describePlanFailure,
  parsePlanStatus,
  planFailed,
} from "./autopilot_plan.ts";

Deno.test("autopilotPlan() leaves out an empty target group (discovery is required in one)", () => {
  const plan = autopilotPlan({
    version: "v1.33.4+k0s.0",
    platforms: { "linux-amd64": { url: "http://10.0.0.5:5080/p/k0s", sha256: "ab" } },
    controllers: ["c1", "c2"],
    workers: [],
    id: "id",
    timestamp: "2026-01-01T00:00:00.000Z",
  }) as { metadata: unknown; spec: { commands: { k0supdate: { targets: unknown } }[] } };
  assert.deepStrictEqual(plan.metadata, { name: "autopilot" });
  assert.deepStrictEqual(plan.spec.commands[0].k0supdate.targets, {
    controllers: { discovery: { static: { nodes: ["c1", "c2"] } } },
  });
});

Deno.test("parsePlanStatus() reads state, description and node states; failures are described", () => {
  const status = parsePlanStatus({
    spec: { id: "k0rdentd-v1.33.4+k0s.0", commands: [{ k0supdate: { version: "v1.33.4+k0s.0" } }] },
    status: {
      state: "ApplyFailed",
      commands: [{
        id: 0,
        state: "ApplyFailed",
        k0supdate: {
          controllers: [{ name: "c1", state: "SignalCompleted" }],
          workers: [{ name: "w1", state: "SignalApplyFailed" }, {
            name: "w2",
            state: "SignalPending",
          }],
        },
      }],
    },
  });
  assert.deepStrictEqual(status, {
    id: "k0rdentd-v1.33.4+k0s.0",
    version: "v1.33.4+k0s.0",
    state: "ApplyFailed",
    description: "",
    nodes: [
      { name: "c1", role: "controller", state: "SignalCompleted" },
      { name: "w1", role: "worker", state: "SignalApplyFailed" },
      { name: "w2", role: "worker", state: "SignalPending" },
    ],
  });
  assert.ok(planFailed(status));
  assert.equal(
    describePlanFailure(status),
    'autopilot Plan "autopilot" ended in state ApplyFailed (w1 SignalApplyFailed, w2 SignalPending)',
  );
  const warning = parsePlanStatus({
    status: {
      state: "Warning",
      commands: [{
        state: "Warning",
        description: "flowschemas.flowcontrol.apiserver.k8s.io v1beta2 has been removed",
      }],
    },
  });
  assert.equal(
    describePlanFailure(warning),
    'autopilot Plan "autopilot" ended in state Warning: flowschemas.flowcontrol.apiserver.k8s.io v1beta2 has been removed',
  );
  for (const state of ["", "Schedulable", "SchedulableWait", "Completed"]) {
    assert.equal(planFailed({ ...status, state }), false, state);
  }
});

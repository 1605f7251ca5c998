import assert from "node:assert/strict";
import { defaultConfig } from "../config/defaults.ts";
import { ToolError } from "../errors.ts";
import { HostMutator } from "../host/mutator.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { Kubectl } from "../kube/kubectl.ts";
import { FakeRunner } from "../process/fake_runner.ts";
import { installOptions } from "./options.ts";
import type { InstallContext, Phase } from "./phase.ts";
import { PhaseError, runPhases } from "./run_phases.ts";

function context(dryRun: boolean): InstallContext {
  const runner = new FakeRunner();
  const host = new HostMutator(runner, dryRun, (p) => `/nonexistent-root${p}`);
  const k0s = new K0sCli({ runner, host });
  return {
    config: defaultConfig(),
    options: installOptions({}, false),
    host,
    runner,
    k0s,
    kubectl: new Kubectl(k0s),
    output: "text",
    signal: new AbortController().signal,
    state: {},
    facts: {},
  };
}

function phase(id: string, events: string[], extra: Partial<Phase> = {}): Phase {
  return {
    id,
    title: `Phase ${id}`,
    run: () => {
      events.push(`run ${id}`);
      return Promise.resolve();
    },
    ...extra,
  };
}

Deno.test("runPhases() skips done phases, runs the rest in order", async () => {
  const events: string[] = [];
  const results = await runPhases(
    [
      phase("a", events, { shouldRun: () => Promise.resolve(false) }),
      phase("b", events),
      phase("c", events, { shouldRun: () => Promise.resolve(true) }),
    ],
    context(false),
    "retry",
  );
  assert.deepStrictEqual(events, ["run b", "run c"]);
  assert.deepStrictEqual(results.map((r) => r.status), ["skipped", "done", "done"]);
});

Deno.test("runPhases() under dry-run uses dryRun() descriptions instead of waiting", async () => {
  const events: string[] = [];
  const results = await runPhases(
    [
      phase("wait", events, { dryRun: () => ["wait for it"] }),
      phase("write", events),
    ],
    context(true),
    "retry",
  );
  assert.deepStrictEqual(events, ["run write"]);
  assert.deepStrictEqual(results.map((r) => r.status), ["planned", "planned"]);
});

Deno.test("runPhases() cleans up the failed phase, stops, and names it with the retry hint", async () => {
  const events: string[] = [];
  const failing = phase("b", events, {
    run: () => Promise.reject(new ToolError(["helm", "upgrade"], 1, "Error: chart not found")),
    cleanUp: () => {
      events.push("clean b");
      return Promise.resolve();
    },
  });
  const err = await runPhases(
    [phase("a", events), failing, phase("c", events)],
    context(false),
    "Run it again",
  )
    .then(() => null, (e) => e);
  assert.ok(err instanceof PhaseError);
  assert.match(
    err.message,
    /^Phase "b" \(Phase b\) failed: .*Error: chart not found\. Run it again$/,
  );
  assert.deepStrictEqual(events, ["run a", "clean b"]);
});

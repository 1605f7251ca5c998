/**
 * `install` failure handling: a failure injected into the fake k0s/helm/kubectl
 * at each step names the phase, shows the tool's stderr and how to retry, and
 * the next run completes; hangs hit the configured timeouts with a clear message.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { MAIN_TS } from "./helpers/cli.ts";
import { FakeHost, FAKES_DIR, serveK0sRelease } from "./helpers/fake_host.ts";

const VERSION = "v1.32.8+k0s.0";
const ARCH = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
const FAKE_K0S = await Deno.readFile(join(FAKES_DIR, "k0s"));
const ARGS = [
  "install",
  "--ignore-preflight-errors=root,ports",
  "--poll-interval",
  "20ms",
  "--timeout",
  "400ms",
];

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

/** Step to break, and the phase that must report it. */
const CASES: [step: string, phase: string, message: string][] = [
  ["k0s-install", "k0s-service", "Error: fake failure injected at k0s-install"],
  ["k0s-start", "k0s-service", "Error: fake failure injected at k0s-start"],
  ["kubectl-get-nodes", "wait-kubernetes", "Timed out after 400ms waiting for Kubernetes"],
  ["helm-upgrade", "k0rdent-helm", "Error: fake failure injected at helm-upgrade"],
  ["kubectl-get-management", "wait-k0rdent", "Timed out after 400ms waiting for k0rdent"],
];

for (const [step, phase, message] of CASES) {
  Deno.test(`install: a failure at ${step} names phase ${phase}; the rerun completes`, async () => {
    await using host = await FakeHost.create();
    await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
    const args = [...ARGS, "--k0s-download-url", release.url];
    await host.inject(step);
    const failed = await host.run(args);
    assert.equal(failed.code, 1, failed.stderr);
    includes(failed.stderr, `Phase "${phase}"`);
    includes(failed.stderr, message);
    includes(failed.stderr, 'run "k0rdentd install" again');
    assert.ok(!failed.stderr.includes("    at "), "no stack trace");

    await host.inject(null);
    await host.clearCalls();
    const rerun = await host.run(args);
    assert.equal(rerun.code, 0, rerun.stderr);
    const calls = await host.mutatingCalls();
    assert.ok(!calls.includes("k0s reset"), calls.join("\n"));
    // Phases that finished before the failure are not redone.
    if (phase !== "k0s-service") assert.ok(!calls.some((c) => c.startsWith("k0s install")));
    await host.clearCalls();
    const third = await host.run(args);
    assert.equal(third.code, 0, third.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  });
}

Deno.test("install: a hanging helm is killed at --command-timeout with a clear message", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  await host.inject("helm-upgrade", "hang");
  const started = Date.now();
  const result = await host.run([
    ...ARGS,
    "--k0s-download-url",
    release.url,
    "--command-timeout",
    "500ms",
  ]);
  assert.equal(result.code, 1);
  assert.ok(Date.now() - started < 20_000, "the hang must not outlive the timeout");
  includes(result.stderr, 'Phase "k0rdent-helm" (Install k0rdent with helm) failed');
  includes(result.stderr, "timed out after 500 ms");
});

Deno.test("install: k0s that never becomes ready hits --timeout naming what is missing", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const result = await host.run([...ARGS, "--k0s-download-url", release.url], {
    FAKE_PROBE_AFTER: "100000",
  });
  assert.equal(result.code, 1);
  includes(
    result.stderr,
    "Timed out after 400ms waiting for Kubernetes: Kube-api probing not successful",
  );
  // Polled with a sleep, not spun: about timeout / interval polls (plus the idempotency check).
  const polls = (await host.calls()).filter((c) => c === "k0s status -o json").length;
  assert.ok(polls >= 3 && polls <= 40, `${polls} polls`);
});

Deno.test("install: a failed download leaves nothing, and the rerun installs", async () => {
  await using host = await FakeHost.create();
  await using bad = await serveK0sRelease(VERSION, ARCH, FAKE_K0S, { badChecksum: true });
  const failed = await host.run([...ARGS, "--k0s-download-url", bad.url]);
  assert.equal(failed.code, 1);
  includes(failed.stderr, 'Phase "k0s-binary"');
  assert.deepStrictEqual([...(await host.files()).keys()], []);
  await using good = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const rerun = await host.run([...ARGS, "--k0s-download-url", good.url]);
  assert.equal(rerun.code, 0, rerun.stderr);
});

Deno.test("install: a failed restart after a k0s config change is retried by the next run", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const args = [...ARGS, "--k0s-download-url", release.url];
  assert.equal((await host.run(args)).code, 0);
  const config = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(config, "k0s:\n  network:\n    podCIDR: 10.250.0.0/16\n");
  await host.inject("k0s-stop");
  const failed = await host.run(["-c", config, ...args]);
  assert.equal(failed.code, 1);
  includes(failed.stderr, 'Phase "k0s-service"');
  await host.inject(null);
  await host.clearCalls();
  const rerun = await host.run(["-c", config, ...args]);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
  await host.clearCalls();
  assert.equal((await host.run(["-c", config, ...args])).code, 0);
  assert.deepStrictEqual(await host.mutatingCalls(), []);
});

Deno.test("install: Ctrl-C during a hanging helm kills it and exits 130", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  await host.inject("helm-upgrade", "hang");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...BINARY_PERMISSIONS,
      MAIN_TS,
      ...ARGS,
      "--k0s-download-url",
      release.url,
    ],
    env: { ...host.env(), NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const deadline = Date.now() + 30_000;
  while (!(await host.calls()).some((c) => c.startsWith("helm upgrade"))) {
    assert.ok(Date.now() < deadline, "helm upgrade never started");
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill("SIGINT");
  const started = Date.now();
  const out = await child.output();
  assert.equal(out.code, 130);
  assert.ok(Date.now() - started < 10_000);
  includes(new TextDecoder().decode(out.stderr), "Interrupted");
});

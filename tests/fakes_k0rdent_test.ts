/**
 * The fake kubectl's k0rdent objects (tests/fakes/kubectl_k0rdent.sh) answer like kcm: the
 * upgrade tests rely on it refusing what kcm's validating webhook refuses
 * (k0rdent/kcm internal/webhook/management_webhook.go validateRelease) and on the fake helm
 * refusing to upgrade the release kcm owns.
 */
import { ProcessRunner } from "../src/process/runner.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { releaseYaml } from "./fixtures/make_bundle.ts";

/** Runs fake `name` with the host's environment (the project's process runner). */
async function tool(host: FakeHost, name: string, args: string[], stdin?: string) {
  const res = await new ProcessRunner().run([join(FAKES_DIR, name), ...args], {
    env: host.env({ KUBECONFIG: join(host.dir, "kubeconfig") }),
    stdin,
  });
  return { code: res.code, stdout: res.stdout, stderr: res.stderrTail };
}

Deno.test("fake kcm: spec.release must name a ready Release; helm upgrade of kcm's release is refused", async () => {
  await using host = await FakeHost.create();
  await Deno.writeTextFile(join(host.state, "k0s-running"), "");
  await Deno.writeTextFile(join(host.dir, "kubeconfig"), "apiVersion: v1\n");
  const install = ["upgrade", "--install", "kcm", "oci://ghcr.io/k0rdent/kcm/charts/kcm"];
  const first = await tool(host, "helm", [...install, "--version", "1.2.0", "-n", "kcm-system"]);
  assert.equal(first.code, 0, first.stderr);

  const patch = join(host.dir, "patch.json");
  const move = ["patch", "management", "kcm", "--type=merge", "--patch-file", patch];
  await Deno.writeTextFile(patch, '{"spec":{"release":"kcm-1-3-0"}}');
  const missing = await tool(host, "kubectl", move);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /denied the request: Management.k0rdent.mirantis.com "kcm" is invalid: spec.release: Forbidden: releases.k0rdent.mirantis.com "kcm-1-3-0" not found/,
  );

  const applied = await tool(
    host,
    "kubectl",
    ["apply", "--server-side", "-f", "-"],
    releaseYaml("1.3.0"),
  );
  assert.equal(applied.code, 0, applied.stderr);
  const unready = await tool(host, "kubectl", move);
  assert.equal(unready.code, 1);
  assert.match(unready.stderr, /release "kcm-1-3-0" status is not ready/);

  for (let i = 0; i < 2; i++) {
    await tool(host, "kubectl", ["get", "release", "kcm-1-3-0", "-o", "json"]);
  }
  const moved = await tool(host, "kubectl", move);
  assert.equal(moved.code, 0, moved.stderr);
  const mgmt = JSON.parse(
    (await tool(host, "kubectl", ["get", "management", "kcm", "-o", "json"])).stdout,
  );
  assert.equal(mgmt.spec.release, "kcm-1-3-0");
  assert.equal(mgmt.status.release, "kcm-1-2-0", "kcm moves status.release only after a while");

  const again = await tool(host, "helm", [...install, "--version", "1.3.0", "-n", "kcm-system"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /release "kcm" is owned by kcm/);

  // A patch on argv (values may hold secrets) is refused by the fake.
  const argv = await tool(host, "kubectl", [
    "patch",
    "management",
    "kcm",
    "--type=merge",
    "-p",
    "{}",
  ]);
  assert.equal(argv.code, 1);
});

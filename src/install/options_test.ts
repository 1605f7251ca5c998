import assert from "node:assert/strict";
import { defaultConfig } from "../config/defaults.ts";
import { UsageError, UserError } from "../errors.ts";
import { checkInputFiles, DEFAULT_TIMEOUTS, installOptions, parseDuration } from "./options.ts";

Deno.test("parseDuration() accepts ms/s/m/h and rejects the rest with the flag name", () => {
  assert.equal(parseDuration("--timeout", "90s"), 90_000);
  assert.equal(parseDuration("--timeout", "5m"), 300_000);
  assert.equal(parseDuration("--timeout", "250ms"), 250);
  assert.throws(() => parseDuration("--timeout", "soon"), UsageError);
  assert.throws(() => parseDuration("--timeout", "-5m"), /Invalid --timeout "-5m"/);
});

Deno.test("installOptions() defaults, --timeout for both waits, ignore lists, air-gap flavor", () => {
  const defaults = installOptions({}, false);
  assert.equal(defaults.kubernetesTimeoutMs, DEFAULT_TIMEOUTS.kubernetesMs);
  assert.equal(defaults.k0rdentTimeoutMs, DEFAULT_TIMEOUTS.k0rdentMs);
  assert.equal(defaults.airgap, false);
  const o = installOptions(
    { timeout: "2m", k0rdentTimeout: "20m", ignorePreflightErrors: "Ports, disk" },
    true,
  );
  assert.equal(o.airgap, true);
  assert.equal(o.kubernetesTimeoutMs, 120_000);
  assert.equal(o.k0rdentTimeoutMs, 1_200_000);
  assert.deepStrictEqual(o.ignorePreflight, new Set(["ports", "disk"]));
  assert.equal(installOptions({ ignorePreflightErrors: "root,all" }, false).ignorePreflight, "all");
  assert.throws(
    () => installOptions({ ignorePreflightErrors: "ports,dsik" }, false),
    (err: unknown) => err instanceof UsageError && /unknown check\(s\) dsik/.test(err.message),
  );
});

Deno.test("checkInputFiles() rejects a missing binary or registry CA before any phase", async () => {
  const config = defaultConfig();
  const online = installOptions({}, false);
  await checkInputFiles({ ...online, k0sBinary: Deno.execPath() }, config);
  await assert.rejects(
    () => checkInputFiles({ ...online, helmBinary: "/nonexistent/helm" }, config),
    (err: unknown) =>
      err instanceof UserError &&
      /^Cannot use --helm-binary "\/nonexistent\/helm"/.test(err.message),
  );
  await assert.rejects(
    () => checkInputFiles({ ...online, k0sBinary: "/" }, config),
    /Cannot use --k0s-binary "\/": not a file/,
  );
  config.airgap.registry = {
    ...config.airgap.registry,
    insecure: false,
    caFile: "/nonexistent/ca",
  };
  await checkInputFiles(online, config); // online without a mirror needs no CA
  await assert.rejects(
    () => checkInputFiles(installOptions({ airgap: true }, false), config),
    /Cannot read registry CA "\/nonexistent\/ca"/,
  );
});

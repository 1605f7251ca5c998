/**
 * `k0rdentd export-join-config` end to end: the CLI runs as a subprocess under a temp root whose
 * `/usr/local/bin/k0s` is the fake `tests/fakes/k0s_worker.sh` (status, token create); the files
 * it writes are checked for content and modes and validated as k0rdentd config files.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "yaml";
import { fakeController } from "./helpers/fake_controller.ts";

function controller(options: { running?: boolean } = {}) {
  return fakeController({
    prefix: "join-export-",
    running: options.running,
    role: "controller",
    version: "v1.33.4+k0s.0",
  });
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("export-join-config writes private controller and worker join files", async () => {
  await using c = await controller();
  const r = await c.cli(
    "export-join-config",
    "--controller-ip",
    "10.0.0.5",
    "--expiry",
    "2h",
    "--registry-port",
    "5443",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Wrote controller-join\.yaml, worker-join\.yaml to "\.\/join-configs"/);
  const dir = join(c.base, "join-configs");
  assert.equal(await mode(dir), 0o700);
  for (const role of ["controller", "worker"]) {
    const file = join(dir, `${role}-join.yaml`);
    assert.equal(await mode(file), 0o600);
    const doc = parse(await Deno.readTextFile(file));
    assert.equal(doc.join.mode, role);
    assert.equal(doc.join.server, "https://10.0.0.5:6443");
    assert.equal(doc.join.token, `fake-token-${role}-2h`);
    assert.equal(doc.k0s.version, "v1.33.4+k0s.0");
    assert.equal(doc.airgap.registry.address, "10.0.0.5:5443");
    assert.equal(doc.airgap.registry.insecure, false);
    // The file is a valid k0rdentd config for the new node.
    const check = await c.cli("-c", file, "config", "validate");
    assert.equal(check.code, 0, check.stderr + check.stdout);
  }
  assert.deepEqual((await c.k0sCalls()).filter((l) => l.startsWith("token")), [
    "token create --role=controller --expiry=2h",
    "token create --role=worker --expiry=2h",
  ]);
  assert.doesNotMatch(r.stderr + r.stdout, /fake-token/, "tokens never reach the output");
});

Deno.test("export-join-config copies the CA of a TLS registry", async () => {
  await using c = await controller();
  const ca = join(c.base, "ca.pem");
  await Deno.writeTextFile(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  await Deno.writeTextFile(
    join(c.base, "k.yaml"),
    `airgap:\n  registry:\n    address: localhost:5000\n    insecure: false\n    caFile: ${ca}\n`,
  );
  const r = await c.cli(
    "-c",
    "k.yaml",
    "export-join-config",
    "--controller-ip",
    "10.0.0.5",
    "--registry-port",
    "5000",
  );
  assert.equal(r.code, 0, r.stderr);
  const dir = join(c.base, "join-configs");
  assert.equal(await Deno.readTextFile(join(dir, "registry-ca.crt")), await Deno.readTextFile(ca));
  assert.equal(await mode(join(dir, "registry-ca.crt")), 0o600);
  const doc = parse(await Deno.readTextFile(join(dir, "worker-join.yaml")));
  assert.equal(doc.airgap.registry.insecure, false);
  assert.equal(doc.airgap.registry.caFile, "/etc/k0rdentd/registry-ca.crt");
  // localhost:5000 on the exported port: joined nodes map it to the registry, nothing to warn.
  assert.doesNotMatch(r.stderr, /airgap\.registry\.address is/);
});

Deno.test("export-join-config refuses to overwrite, off a controller, and bad flags", async () => {
  await using c = await controller();
  assert.equal((await c.cli("export-join-config", "--controller-ip", "10.0.0.5")).code, 0);
  const before = await Deno.readTextFile(join(c.base, "join-configs/worker-join.yaml"));
  const tokenCalls = async () => (await c.k0sCalls()).filter((l) => l.startsWith("token")).length;
  const tokens = await tokenCalls();
  const again = await c.cli("export-join-config", "--controller-ip", "10.0.0.5");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /controller-join\.yaml": it already exists \(use --overwrite\)/);
  assert.equal(await tokenCalls(), tokens, "no token is created before the check");
  assert.equal(await Deno.readTextFile(join(c.base, "join-configs/worker-join.yaml")), before);
  const over = await c.cli("export-join-config", "--controller-ip", "10.0.0.5", "--overwrite");
  assert.equal(over.code, 0, over.stderr);

  for (
    const [args, pattern] of [
      [["--expiry", "1d"], /Invalid --expiry "1d"/],
      [["--controller-ip", "10.0.0"], /Invalid --controller-ip "10\.0\.0"/],
      [["--registry-port", "70000"], /Invalid --registry-port "70000"/],
    ] as const
  ) {
    const bad = await c.cli("export-join-config", ...args);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, pattern);
  }
});

Deno.test("export-join-config fails clearly when k0s is not running as a controller", async () => {
  await using c = await controller({ running: false });
  const r = await c.cli("export-join-config", "--controller-ip", "10.0.0.5");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /k0s is not running as a controller on this host/);
  await assert.rejects(() => Deno.stat(join(c.base, "join-configs")));
});

Deno.test("export-join-config --dry-run prints the plan (text, JSON), creates no token, writes nothing", async () => {
  await using c = await controller();
  const r = await c.cli("export-join-config", "--controller-ip", "10.0.0.5", "--dry-run");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Dry run: would create a controller and a worker join token/);
  assert.match(r.stdout, /^Dry run: 5 change\(s\) planned, nothing was changed\n/);
  assert.match(r.stdout, /\n {2}Would run \S*k0s token create --role=worker --expiry=24h\n/);
  assert.match(r.stdout, /\n {2}Would write join-configs\/controller-join\.yaml \(mode 0600\)/);

  const json = await c.cli(
    "export-join-config",
    "--controller-ip",
    "10.0.0.5",
    "--dry-run",
    "--output",
    "json",
  );
  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout);
  assert.equal(plan.dryRun, true);
  assert.equal(plan.server, "https://10.0.0.5:6443");
  assert.deepEqual(plan.files, ["controller-join.yaml", "worker-join.yaml"]);
  assert.equal(plan.changes.length, 5);
  assert.match(plan.changes[0], /^run \S*k0s token create --role=controller --expiry=24h$/);
  assert.deepEqual(plan.changes.slice(2), [
    "create directory ./join-configs (mode 0700)",
    "write join-configs/controller-join.yaml (mode 0600)",
    "write join-configs/worker-join.yaml (mode 0600)",
  ]);
  await assert.rejects(() => Deno.stat(join(c.base, "join-configs")));
  assert.ok(!(await c.k0sCalls()).some((l) => l.startsWith("token")));
});

Deno.test("export-join-config invalidates its tokens and removes its files when a write fails", async () => {
  await using c = await controller();
  c.env.FAKE_K0S_TOKEN_FORMAT = "k0s";
  const dir = join(c.base, "join-configs");
  // A directory where worker-join.yaml goes: the controller file is written, the worker's fails.
  await Deno.mkdir(join(dir, "worker-join.yaml"), { recursive: true });
  const r = await c.cli("export-join-config", "--controller-ip", "10.0.0.5", "--overwrite");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Cannot write join config to "\.\/join-configs"/);
  assert.deepEqual((await c.k0sCalls()).filter((l) => l.startsWith("token")), [
    "token create --role=controller --expiry=24h",
    "token create --role=worker --expiry=24h",
    "token invalidate ctl24h",
    "token invalidate wrk24h",
  ]);
  assert.match(r.stderr, /Invalidated the worker join token wrk24h/);
  await assert.rejects(() => Deno.stat(join(dir, "controller-join.yaml")), Deno.errors.NotFound);
  assert.doesNotMatch(r.stderr + r.stdout, /0123456789abcdef|H4sI/, "no token in the output");
});

Deno.test("export-join-config invalidates the controller token when the worker token fails", async () => {
  await using c = await controller();
  c.env.FAKE_K0S_TOKEN_FORMAT = "k0s";
  c.env.FAKE_K0S_TOKEN_FAIL = "worker";
  const r = await c.cli("export-join-config", "--controller-ip", "10.0.0.5", "--expiry", "2h");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /failed to create a worker token/);
  assert.deepEqual((await c.k0sCalls()).filter((l) => l.startsWith("token")), [
    "token create --role=controller --expiry=2h",
    "token create --role=worker --expiry=2h",
    "token invalidate ctl2h0",
  ]);
  await assert.rejects(() => Deno.stat(join(c.base, "join-configs")), Deno.errors.NotFound);
});

Deno.test("export-join-config names a token it cannot invalidate, without the secret", async () => {
  await using c = await controller();
  // The fake's default tokens are no k0s tokens: their id cannot be read.
  await Deno.mkdir(join(c.base, "join-configs/worker-join.yaml"), { recursive: true });
  const r = await c.cli("export-join-config", "--controller-ip", "10.0.0.5", "--overwrite");
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /Cannot invalidate the controller join token: not a k0s join token.*k0s token list --role=controller.*k0s token invalidate <id>/,
  );
  assert.doesNotMatch(r.stderr + r.stdout, /fake-token/);
});

Deno.test("export-join-config carries the CA of the registry's --tls auto storage to joining nodes", async () => {
  await using c = await controller();
  const storage = join(c.base, "registry");
  await Deno.mkdir(join(storage, "tls"), { recursive: true });
  const pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";
  await Deno.writeTextFile(join(storage, "tls", "ca.crt"), pem);
  await Deno.mkdir(join(c.root, "etc/k0rdentd"), { recursive: true });
  await Deno.writeTextFile(
    join(c.root, "etc/k0rdentd/k0rdentd.yaml"),
    `registry:\n  storage: ${storage}\n`,
  );
  const r = await c.cli(
    "export-join-config",
    "--controller-ip",
    "10.0.0.5",
    "--registry-port",
    "5000",
  );
  assert.equal(r.code, 0, r.stderr);
  const dir = join(c.base, "join-configs");
  assert.equal(await Deno.readTextFile(join(dir, "registry-ca.crt")), pem);
  assert.equal(await mode(join(dir, "registry-ca.crt")), 0o600);
  const doc = parse(await Deno.readTextFile(join(dir, "worker-join.yaml")));
  assert.equal(doc.airgap.registry.address, "10.0.0.5:5000");
  assert.equal(doc.airgap.registry.insecure, false);
  assert.equal(doc.airgap.registry.caFile, "/etc/k0rdentd/registry-ca.crt");
});

// `k0rdentd registry` as a subprocess: one clear line and exit 1 for a busy port, unusable
// storage, bad TLS or htpasswd files; graceful SIGINT; verify/gc; the systemd unit; and the
// `registry` deno task running with exactly REGISTRY_SERVE_PERMISSIONS.
import assert from "node:assert/strict";
import { join } from "node:path";
import { REGISTRY_SERVE_PERMISSIONS } from "../src/permissions.ts";
import { freePort } from "./helpers/free_port.ts";
import { runRegistryCli, startDaemon } from "./registry_helpers.ts";
import { needsTools } from "./helpers/tools.ts";
import { runCli } from "./helpers/cli.ts";
import { makeBundle } from "./fixtures/make_bundle.ts";

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

function assertOneLineError(res: { code: number; stderr: string }, pattern: RegExp) {
  assert.equal(res.code, 1, res.stderr);
  const lines = res.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${res.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(res.stderr, /\s+at\s/);
}

Deno.test(
  await needsTools("registry: a busy port is one clear line and exit 1", "openssl"),
  async () => {
    await using work = await tempDir("registry-cli-");
    const busy = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    try {
      const port = (busy.addr as Deno.NetAddr).port;
      const res = await runRegistryCli([
        "registry",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--storage",
        work.path,
      ]);
      assertOneLineError(
        res,
        new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: address already in use`),
      );
    } finally {
      busy.close();
    }
  },
);

Deno.test("registry: unusable storage, bad TLS and htpasswd files are one line and exit 1", async () => {
  await using work = await tempDir("registry-cli-");
  const file = join(work.path, "file");
  await Deno.writeTextFile(file, "not a directory");
  const port = String(freePort());
  const base = ["registry", "--host", "127.0.0.1", "--port", port];
  assertOneLineError(
    await runRegistryCli([...base, "--storage", join(file, "sub")]),
    /Cannot use registry storage ".*file\/sub":/,
  );
  assertOneLineError(
    await runRegistryCli([
      ...base,
      "--storage",
      work.path,
      "--tls-cert",
      join(work.path, "nope.crt"),
      "--tls-key",
      file,
    ]),
    /Cannot read TLS certificate ".*nope\.crt":/,
  );
  assertOneLineError(
    await runRegistryCli([...base, "--storage", work.path, "--tls-cert", file, "--tls-key", file]),
    /Cannot read TLS certificate ".*file": not a PEM file/,
  );
  const badPem = join(work.path, "bad.pem");
  await Deno.writeTextFile(
    badPem,
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  );
  assertOneLineError(
    await runRegistryCli([
      ...base,
      "--storage",
      work.path,
      "--tls-cert",
      badPem,
      "--tls-key",
      badPem,
    ]),
    /Cannot serve TLS with certificate ".*bad\.pem" and key ".*bad\.pem":/,
  );
  const weak = join(work.path, "htpasswd");
  await Deno.writeTextFile(weak, "user:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n");
  assertOneLineError(
    await runRegistryCli([...base, "--storage", work.path, "--htpasswd", weak]),
    /Cannot use htpasswd file ".*htpasswd" line 1 is not a "user:bcrypt-hash" entry/,
  );
  // A bad flag value is a usage error (exit 2) quoting the value.
  const res = await runRegistryCli([...base, "--port", "99999"]);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /Invalid --port "99999"/);
});

Deno.test("registry: drops run/ffi/sys/env once serving; SIGINT stops it with exit 0", async () => {
  await using work = await tempDir("registry-cli-");
  const daemon = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    work.path,
    "--log-level",
    "debug",
  ]);
  assert.match(daemon.stderr(), /Dropped permissions: run, ffi, sys, env/);
  const res = await fetch(`http://127.0.0.1:${daemon.port}/v2/`);
  assert.equal(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
  await res.body?.cancel();
  assert.equal(await daemon.stop("SIGINT"), 0, daemon.stderr());
  assert.match(daemon.stderr(), /Registry stopped/);
});

Deno.test("registry verify and gc: a fresh storage is sound; missing storage is exit 1", async () => {
  await using work = await tempDir("registry-cli-");
  let res = await runRegistryCli(["registry", "verify", "--storage", work.path]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /0 blobs/);
  res = await runRegistryCli([
    "registry",
    "gc",
    "--dry-run",
    "--storage",
    work.path,
    "--output",
    "json",
  ]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).dryRun, true);
  res = await runRegistryCli(["registry", "verify", "--storage", join(work.path, "nope")]);
  assertOneLineError(res, /Registry storage ".*nope" does not exist/);
});

Deno.test("registry --print-systemd-unit prints a hardened unit for the same flags", async () => {
  const res = await runRegistryCli([
    "registry",
    "--print-systemd-unit",
    "--port",
    "5050",
    "--storage",
    "/srv/my registry",
    "--files-port",
    "8080",
    "--tls",
    "auto",
    "--tls-san",
    "reg.example",
    "--read-only",
  ]);
  assert.equal(res.code, 0, res.stderr);
  const unit = res.stdout;
  assert.match(
    unit,
    /^ExecStart=\S+ registry --host 0\.0\.0\.0 --port 5050 --storage "\/srv\/my registry" --files-port 8080 --prefix k0rdent-enterprise --debug-address 127\.0\.0\.1:5001 --tls auto --tls-san reg\.example --read-only$/m,
  );
  for (
    const line of [
      "ProtectSystem=strict",
      'ReadWritePaths="/srv/my registry"',
      "NoNewPrivileges=yes",
      "Restart=on-failure",
      "WantedBy=multi-user.target",
    ]
  ) assert.ok(unit.includes(`\n${line}\n`), `missing ${line}`);
});

Deno.test("the registry deno task uses exactly REGISTRY_SERVE_PERMISSIONS", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const task: string = denoJson.tasks.registry;
  const flags = task.split(/\s+/).filter((a) => a.startsWith("--allow-"));
  assert.deepEqual(flags, [...REGISTRY_SERVE_PERMISSIONS]);
  // The checkout's var/registry, as for `deno task k0rdentd` (tests/tasks_storage_test.ts).
  assert.match(
    task,
    /^K0RDENTD_REGISTRY_STORAGE=\$PWD\/var\/registry node_modules\/\.bin\/deno run /,
  );
  assert.match(task, / main\.ts registry$/);
  assert.ok(!task.includes("--allow-all") && !task.includes(" -A "));
});

Deno.test("registry: env K0RDENTD_REGISTRY_* set host, ports and storage; flags win", async () => {
  const env = {
    K0RDENTD_REGISTRY_HOST: "10.0.0.5",
    K0RDENTD_REGISTRY_PORT: "5002",
    K0RDENTD_REGISTRY_FILES_PORT: "5081",
    K0RDENTD_REGISTRY_STORAGE: "/srv/from-env",
  };
  let res = await runRegistryCli(["registry", "--print-systemd-unit"], env);
  assert.match(
    res.stdout,
    / registry --host 10\.0\.0\.5 --port 5002 --storage \/srv\/from-env --files-port 5081 --prefix k0rdent-enterprise --debug-address 127\.0\.0\.1:5001 --tls auto$/m,
  );
  res = await runRegistryCli(["registry", "--print-systemd-unit", "--port", "5003"], env);
  assert.match(res.stdout, / --port 5003 /);
});

Deno.test("registry status: names the storage, reports a foreground bundle load, and a missing storage exits 1", async () => {
  await using work = await tempDir("registry-status-");
  const storage = join(work.path, "storage");
  const missing = await runRegistryCli(["registry", "status", "--storage", storage]);
  assertOneLineError(missing, /^ERROR Registry storage ".*storage" does not exist/);

  const bundle = join(work.path, "airgap-bundle-1.2.3.tar.gz");
  await makeBundle(bundle, { images: 2 });
  const load = await runCli(["bundle", "load", bundle, "--storage", storage, "--verify=false"]);
  assert.equal(load.code, 0, load.stderr);
  const text = await runRegistryCli(["registry", "status", "--storage", storage]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^Storage: +${storage}\n`));
  assert.match(text.stdout, /^Bundle: +.*airgap-bundle-1\.2\.3\.tar\.gz$/m);
  assert.match(text.stdout, /^State: +complete$/m);
  assert.doesNotMatch(text.stdout, /No bundle load recorded/);
  const json = await runRegistryCli([
    "registry",
    "status",
    "--storage",
    storage,
    "--output",
    "json",
  ]);
  assert.equal(JSON.parse(json.stdout).storage, storage);
  assert.equal(JSON.parse(json.stdout).state, "complete");
});

Deno.test("registry --tls auto without openssl on PATH: one line saying how to fix it", async () => {
  await using work = await tempDir("registry-no-openssl-");
  const emptyPath = join(work.path, "bin"); // the registry CLI spawns only openssl
  await Deno.mkdir(emptyPath);
  const storage = join(work.path, "storage");
  const res = await runRegistryCli(
    [
      "registry",
      "--host",
      "127.0.0.1",
      "--port",
      `${freePort()}`,
      "--files-port",
      "0",
      "--storage",
      storage,
    ],
    { PATH: emptyPath },
  );
  assertOneLineError(
    res,
    /^ERROR Cannot create TLS certificates in ".*storage\/tls.*": openssl is not installed \(--tls auto needs it\): install it \(e\.g\. apt-get install -y openssl\), or serve plain HTTP with --tls off$/,
  );
});

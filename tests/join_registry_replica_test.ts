/**
 * `install --join --mode controller --airgap --registry-replica` end to end: a real registry A
 * (`--tls auto`, one image, one k0s binary) is the cluster's registry; the join runs under a temp
 * root with the fake k0s (`tests/fakes/k0s_worker.sh`) and the fake systemctl
 * (`tests/fakes/systemctl`, which refuses what systemctl refuses). The unit it writes is then run
 * the way systemd runs it: its `ExecStart=` argv (systemd's word splitting, tests/helpers/
 * systemd_exec.ts) with the real `k0rdentd registry` (main.ts, the binary's permissions), host
 * paths under the temp root. That replica serves a certificate of A's CA and replicates A's
 * image and k0s binary (SHA-256 checked). Real systemd (`systemd-analyze verify`, Debian's
 * systemd 252) accepts the unit a plain-HTTP replica gets.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { hashFile } from "../src/hash/sha.ts";
import { openK0sBinaryStore } from "../src/registry/storage/k0s_binaries.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { runCli } from "./helpers/cli.ts";
import { MAIN_TS } from "./helpers/cli.ts";
import { freePort } from "./helpers/free_port.ts";
import { storeManifest } from "./helpers/store_image.ts";
import { execStartArgv } from "./helpers/systemd_exec.ts";
import { cleanEnv, startDaemon } from "./registry_helpers.ts";
import { serveAirgapRegistry } from "./helpers/airgap_registry.ts";
import { needsTools } from "./helpers/tools.ts";

const FAKES = fileURLToPath(new URL("./fakes/", import.meta.url));
const FAKE_K0S = join(FAKES, "k0s_worker.sh");
const K0S_NAME = "k0s-v1.32.8+k0s.0-amd64";
const PREFIX = "k0rdent-enterprise";

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

/**
 * A joining controller under `dir`: its root (with a systemd), a join token, and the env that runs
 * the CLI there with the fake systemctl first on PATH and the fakes' state in `<dir>/state`.
 */
async function controllerHost(dir: string) {
  const root = join(dir, "root");
  await Deno.mkdir(join(root, "run/systemd/system"), { recursive: true });
  const bin = join(dir, "bin");
  await Deno.mkdir(bin);
  await Deno.symlink(join(FAKES, "systemctl"), join(bin, "systemctl"));
  await Deno.writeTextFile(join(dir, "token"), "H4sIAAAAAAAC_fake_join_token\n");
  const state = join(dir, "state");
  const env = {
    K0RDENTD_ROOT: root,
    FAKE_K0S_LOG: join(dir, "k0s.log"),
    FAKE_STATE: state,
    FAKE_TOOLS_DIR: FAKES,
    PATH: `${bin}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
  };
  return { root, state, env };
}

/** `install --join` of a controller with a registry replica, plain HTTP, pull credentials on stdin. */
function replicaJoinArgs(registryAddress: string): string[] {
  return [
    "install",
    "--join",
    "--mode",
    "controller",
    "--token-file",
    "token",
    "--registry-replica",
    "--airgap",
    "--registry-insecure",
    "--registry-address",
    registryAddress,
    "--registry-username",
    "puller",
    "--registry-password-stdin",
    "--k0s-binary",
    FAKE_K0S,
    "--ignore-preflight-errors=root,ports",
    "--poll-interval",
    "20ms",
    "--timeout",
    "5s",
  ];
}

/** Runs `argv` (the unit's, without the binary) as `k0rdentd` until `done()` holds. */
async function runUnitArgv(args: string[], done: () => Promise<boolean>): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...BINARY_PERMISSIONS, MAIN_TS, ...args],
    env: cleanEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pump = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log += text;
  })();
  try {
    const deadline = Date.now() + 60_000;
    while (!(await done())) {
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 200)),
      ]);
      if (exited || Date.now() > deadline) throw new Error(`The replica did not converge:\n${log}`);
    }
    return log;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await pump;
  }
}

Deno.test("install --join --mode controller --registry-replica writes a registry unit whose ExecStart, run, replicates the cluster's registry", async () => {
  await using work = await tempDir("join-replica-");
  // The cluster's registry A, with an image and a k0s binary.
  const a = join(work.path, "a");
  const image = await storeManifest(
    openDiskStorage(a),
    `${PREFIX}/k0sproject/pause`,
    "amd64",
    "3.10",
  );
  const binary = new TextEncoder().encode("#!/bin/sh\necho fake k0s release binary\n".repeat(5000));
  await (await openK0sBinaryStore(a).stage(K0S_NAME, new Blob([binary]).stream())).commit();
  const filesA = freePort();
  const daemonA = await startDaemon([
    "--storage",
    a,
    "--tls",
    "auto",
    "--files-port",
    String(filesA),
  ]);
  try {
    const { root, state, env } = await controllerHost(work.path);
    await Deno.mkdir(join(root, "etc/k0rdentd"), { recursive: true });
    // What the operator copies from the first controller: the CA (the join files' registry-ca.crt)
    // and its key (docs/multi-node.md).
    const ca = join(work.path, "registry-ca.crt");
    await Deno.copyFile(join(a, "tls", "ca.crt"), ca);
    const caKey = join(root, "etc/k0rdentd/registry-ca.key");
    await Deno.copyFile(join(a, "tls", "ca.key"), caKey);
    await Deno.chmod(caKey, 0o600);
    const port = freePort();
    const filesPort = freePort();
    const storage = "/var/lib/k0rdentd/registry";
    const config = join(work.path, "k0rdentd.yaml");
    await Deno.writeTextFile(
      config,
      [
        "join:",
        "  registryReplica: true",
        "registry:",
        `  port: ${port}`,
        `  filesPort: ${filesPort}`,
        '  debugAddress: ""',
        "  syncInterval: 500ms",
        // Both daemons on one host: A's files listener has a port of its own.
        `  syncFilesFrom: [http://127.0.0.1:${filesA}/${PREFIX}]`,
        "",
      ].join("\n"),
    );
    const join_ = () =>
      runCli([
        "-c",
        config,
        "install",
        "--join",
        "--mode",
        "controller",
        "--token-file",
        "token",
        "--airgap",
        "--registry-address",
        `127.0.0.1:${daemonA.port}`,
        "--registry-ca",
        ca,
        "--k0s-binary",
        FAKE_K0S,
        "--ignore-preflight-errors=root,ports",
        "--poll-interval",
        "20ms",
        "--timeout",
        "5s",
      ], { env, cwd: work.path });
    const r = await join_();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Registry replica: .*<this node's IP>:${port}`));
    const calls = async () =>
      (await Deno.readTextFile(join(state, "calls.log"))).trim().split("\n")
        .filter((c) => c.startsWith("systemctl"));
    assert.deepEqual(await calls(), [
      "systemctl daemon-reload",
      "systemctl enable k0rdentd-registry.service",
      "systemctl restart k0rdentd-registry.service",
    ]);
    const tls = join(root, storage, "tls");
    assert.equal(await mode(join(tls, "ca.key")), 0o600);
    assert.equal(await hashFile(join(tls, "ca.key")), await hashFile(join(a, "tls", "ca.key")));
    const unit = await Deno.readTextFile(
      join(root, "etc/systemd/system/k0rdentd-registry.service"),
    );
    const argv = execStartArgv(unit);
    assert.equal(argv[0], "/usr/local/bin/k0rdentd");
    assert.deepEqual(argv.slice(argv.indexOf("--sync-from"), argv.indexOf("--sync-from") + 2), [
      "--sync-from",
      `https://127.0.0.1:${daemonA.port}`,
    ]);
    assert.ok(argv.includes("--sync-ca") && argv[argv.indexOf("--sync-ca") + 1] === ca);
    assert.match(unit, new RegExp(`ReadOnlyPaths=${ca.replaceAll("/", "\\/")}`));

    // The unit as systemd would run it, host paths under the temp root.
    const args = argv.slice(1).map((arg) => arg === storage ? join(root, storage) : arg);
    const replica = join(root, storage);
    const caPem = await Deno.readTextFile(ca);
    const client = Deno.createHttpClient({ caCerts: [caPem] });
    try {
      const log = await runUnitArgv(args, async () => {
        const tag = await openDiskStorage(replica).resolveTag(`${PREFIX}/k0sproject/pause`, "3.10")
          .catch(() => undefined);
        const k0s = await openK0sBinaryStore(replica).sha256(K0S_NAME).catch(() => undefined);
        if (tag !== image.digest || k0s === undefined) return false;
        // Served over TLS with a certificate of A's CA, which every node already trusts.
        const res = await fetch(`https://127.0.0.1:${port}/v2/`, { client }).catch(() => null);
        await res?.body?.cancel();
        return res?.status === 200;
      });
      assert.match(log, /Registry replicates from https:\/\/127\.0\.0\.1:/);
      assert.equal(
        await openK0sBinaryStore(replica).sha256(K0S_NAME),
        await openK0sBinaryStore(a).sha256(K0S_NAME),
      );
    } finally {
      client.close();
    }

    // Rerun: k0s already runs here, the unit is current and active: nothing is restarted.
    const before = (await calls()).length;
    const again = await join_();
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual((await calls()).slice(before), [
      "systemctl is-active --quiet k0rdentd-registry.service",
    ]);
  } finally {
    await daemonA.stop();
  }
});

Deno.test("install --join --registry-replica: usage errors for a worker and without --airgap; a missing CA key is one clear line", async () => {
  await using work = await tempDir("join-replica-bad-");
  const root = join(work.path, "root");
  await Deno.mkdir(join(root, "run/systemd/system"), { recursive: true });
  await Deno.writeTextFile(join(work.path, "token"), "H4sIAAAAAAAC_fake_join_token\n");
  const env = { K0RDENTD_ROOT: root, FAKE_K0S_LOG: join(work.path, "k0s.log") };
  const base = ["install", "--join", "--token-file", "token", "--registry-replica"];
  const worker = await runCli([...base, "--mode", "worker"], { env, cwd: work.path });
  assert.equal(worker.code, 2);
  assert.match(
    worker.stderr,
    /--registry-replica \(join\.registryReplica\) is for --mode controller/,
  );
  const online = await runCli([...base, "--mode", "controller"], { env, cwd: work.path });
  assert.equal(online.code, 2);
  assert.match(online.stderr, /needs --airgap/);
  // A TLS registry and no CA key on this node: refused before k0s is touched.
  const daemon = await startDaemon(["--storage", join(work.path, "a"), "--tls", "auto"]);
  try {
    const noKeyArgs = [
      ...base,
      "--mode",
      "controller",
      "--airgap",
      "--registry-address",
      `127.0.0.1:${daemon.port}`,
      "--registry-ca",
      join(work.path, "a", "tls", "ca.crt"),
      "--k0s-binary",
      FAKE_K0S,
      "--ignore-preflight-errors=root,ports",
    ];
    const noKey = await runCli(noKeyArgs, { env, cwd: work.path });
    assert.equal(noKey.code, 1, noKey.stderr);
    assert.match(
      noKey.stderr,
      /needs the cluster registry's CA key "\/etc\/k0rdentd\/registry-ca\.key": .*copy <registry\.storage>\/tls\/ca\.key/,
    );
    assert.doesNotMatch(noKey.stderr, /\n\s+at /, "no stack trace");
    // A key other users can read is refused, as a --sync-password-file is.
    const keyPath = join(root, "etc/k0rdentd/registry-ca.key");
    await Deno.mkdir(join(root, "etc/k0rdentd"), { recursive: true });
    await Deno.copyFile(join(work.path, "a", "tls", "ca.key"), keyPath);
    await Deno.chmod(keyPath, 0o644);
    const openKey = await runCli(noKeyArgs, { env, cwd: work.path });
    assert.equal(openKey.code, 1, openKey.stderr);
    assert.match(
      openKey.stderr,
      /Refusing the registry CA key "\/etc\/k0rdentd\/registry-ca\.key": other users can access it \(mode 0644\): chmod 600 it/,
    );
    const k0s = await Deno.readTextFile(join(work.path, "k0s.log")).catch(() => "");
    assert.doesNotMatch(k0s, /^install /m, "k0s was not joined");
  } finally {
    await daemon.stop();
  }
});

Deno.test(
  await needsTools(
    "install --join --registry-replica: real systemd (systemd-analyze verify) accepts the unit of a plain-HTTP replica with pull credentials",
    "systemd-analyze",
  ),
  async () => {
    await using work = await tempDir("join-replica-verify-");
    await using registry = await serveAirgapRegistry({ insecure: true });
    const { root, env } = await controllerHost(work.path);
    const r = await runCli(replicaJoinArgs(registry.address), {
      env,
      cwd: work.path,
      stdin: "pull-secret\n",
    });
    assert.equal(r.code, 0, r.stderr);
    const unitPath = "etc/systemd/system/k0rdentd-registry.service";
    const unit = await Deno.readTextFile(join(root, unitPath));
    const argv = execStartArgv(unit);
    const flag = (name: string) => argv[argv.indexOf(name) + 1];
    assert.equal(flag("--sync-from"), `http://${registry.address}`);
    assert.equal(flag("--tls"), "off");
    assert.equal(flag("--sync-username"), "puller");
    const pw = join(root, flag("--sync-password-file"));
    assert.equal(await Deno.readTextFile(pw), "pull-secret\n");
    assert.equal(await mode(pw), 0o600);
    assert.doesNotMatch(unit + r.stdout + r.stderr, /pull-secret/, "the password only in its file");
    // systemd refuses to start a unit whose ReadWritePaths= does not exist: the storage is made.
    const rw = /^ReadWritePaths=(.+)$/m.exec(unit)![1];
    assert.ok((await Deno.stat(join(root, rw))).isDirectory, `${rw} exists`);
    assert.equal(await mode(join(root, rw)), 0o700);
    // systemd's own parser on a root holding the unit, its binary and the system's units.
    const sa = join(work.path, "sa");
    await Deno.mkdir(join(sa, "etc/systemd/system"), { recursive: true });
    await Deno.mkdir(join(sa, "usr/local/bin"), { recursive: true });
    await Deno.mkdir(join(sa, "usr/lib/systemd"), { recursive: true });
    await Deno.copyFile(join(root, unitPath), join(sa, unitPath));
    await Deno.copyFile("/bin/true", join(sa, argv[0]));
    const units = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) => {
      try {
        return Deno.statSync(join(d, "multi-user.target")).isFile;
      } catch {
        return false;
      }
    });
    assert.ok(units, "the system's units (systemd package)");
    const cp = await new Deno.Command("cp", { args: ["-r", units, join(sa, "usr/lib/systemd/")] })
      .output();
    assert.equal(cp.code, 0);
    const verify = async () => {
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", `--root=${sa}`, `/${unitPath}`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, text: new TextDecoder().decode(out.stderr) };
    };
    const ok = await verify();
    assert.equal(ok.code, 0, ok.text);
    // It can fail: a unit with broken quoting is refused.
    await Deno.writeTextFile(join(sa, unitPath), unit.replace("--sync-from", '"--sync-from'));
    const bad = await verify();
    assert.notEqual(bad.code, 0);
    assert.match(bad.text, /Unbalanced quoting/);
  },
);

Deno.test("uninstall on a joined controller stops, disables and removes its registry replica's unit and sync password, and keeps the storage", async () => {
  await using work = await tempDir("join-replica-uninstall-");
  await using registry = await serveAirgapRegistry({ insecure: true });
  const { root, state, env } = await controllerHost(work.path);
  const r = await runCli(replicaJoinArgs(registry.address), {
    env,
    cwd: work.path,
    stdin: "pull-secret\n",
  });
  assert.equal(r.code, 0, r.stderr);
  const units = () => Deno.readTextFile(join(state, "units"));
  assert.equal(await units(), "k0rdentd-registry.service enabled active\n");
  await Deno.writeTextFile(join(state, "calls.log"), "");

  const u = await runCli(["uninstall", "--force"], { env, cwd: work.path });
  assert.equal(u.code, 0, u.stderr);
  const calls = (await Deno.readTextFile(join(state, "calls.log"))).trim().split("\n");
  assert.deepEqual(calls.filter((c) => c.startsWith("systemctl")), [
    "systemctl disable --now k0rdentd-registry.service",
    "systemctl daemon-reload",
  ]);
  assert.equal(await units(), "k0rdentd-registry.service disabled inactive\n");
  for (
    const left of [
      "etc/systemd/system/k0rdentd-registry.service",
      "etc/k0rdentd/registry-sync-password",
    ]
  ) {
    await assert.rejects(() => Deno.stat(join(root, left)), `${left} is left`);
  }
  // The replica's data stays (as the first controller's registry storage does) unless --purge.
  assert.ok((await Deno.stat(join(root, "var/lib/k0rdentd/registry"))).isDirectory);
});

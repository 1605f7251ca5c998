/**
 * `k0rdentd install --join` end to end: the CLI runs as a subprocess under a temp root; the k0s
 * binary it installs (`--k0s-binary`) is the fake `tests/fakes/k0s_worker.sh`, which records its
 * argv, keeps service/running state under the root and reports this host's node as Ready. The
 * air-gap case uses the install tests' registry stub (a real HTTP server on 127.0.0.1).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import { pickNodeAddress } from "../src/join/node_address.ts";
import { freePort } from "./helpers/free_port.ts";
import { serveAirgapRegistry } from "./helpers/airgap_registry.ts";
import { runCli } from "./helpers/cli.ts";
import { ignoreIf } from "./helpers/tools.ts";

const FAKE_K0S = fileURLToPath(new URL("./fakes/k0s_worker.sh", import.meta.url));
const TOKEN = "H4sIAAAAAAAC_fake_join_token";
const NODE = Deno.hostname().toLowerCase();

async function node() {
  const base = await Deno.makeTempDir({ prefix: "join-install-" });
  const root = join(base, "root");
  await Deno.mkdir(join(root, "run/systemd/system"), { recursive: true });
  await Deno.writeTextFile(join(base, "token"), TOKEN + "\n");
  const log = join(base, "k0s.log");
  const env: Record<string, string> = { K0RDENTD_ROOT: root, FAKE_K0S_LOG: log };
  const baseArgs = [
    "--k0s-binary",
    FAKE_K0S,
    "--ignore-preflight-errors=root,ports",
    "--poll-interval",
    "20ms",
    "--timeout",
    "5s",
  ];
  return {
    base,
    root,
    env,
    /** `install --join ...` with the fake k0s binary. */
    install: (args: string[], extraEnv: Record<string, string> = {}) =>
      runCli(["install", ...baseArgs, ...args], { env: { ...env, ...extraEnv }, cwd: base }),
    async k0sCalls(): Promise<string[]> {
      return (await Deno.readTextFile(log).catch(() => "")).split("\n").filter(Boolean);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

const mutating = (calls: string[]) => calls.filter((c) => /^(install|start|stop|reset)/.test(c));
const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("install --join --mode worker installs k0s, joins with the token file, waits for Ready; rerun is a no-op", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Node ${NODE} joined the cluster as a worker with k0s v1`));
  const tokenFile = join(n.root, "etc/k0s/worker-token");
  assert.equal(await Deno.readTextFile(tokenFile), TOKEN + "\n");
  assert.equal(await mode(tokenFile), 0o600);
  assert.equal(await mode(join(n.root, "usr/local/bin/k0s")), 0o755);
  await assert.rejects(
    () => Deno.stat(join(n.root, "etc/k0s/k0s.yaml")),
    "workers get no k0s.yaml",
  );
  assert.deepEqual(mutating(await n.k0sCalls()), [
    `install worker --token-file ${tokenFile}`,
    "start",
  ]);
  assert.ok(
    (await n.k0sCalls()).some((c) => c.includes("--kubeconfig") && c.includes("kubelet.conf")),
  );
  assert.doesNotMatch(r.stdout + r.stderr, new RegExp(TOKEN), "the token never reaches the output");

  const before = (await n.k0sCalls()).length;
  const again = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already runs k0s .* as a worker; nothing changed/);
  assert.deepEqual(mutating((await n.k0sCalls()).slice(before)), []);
});

Deno.test("install --join --mode controller joins as controller+worker with k0s.yaml", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "controller", "--token", TOKEN]);
  assert.equal(r.code, 0, r.stderr);
  const tokenFile = join(n.root, "etc/k0s/controller-token");
  assert.equal(await Deno.readTextFile(tokenFile), TOKEN + "\n");
  assert.equal(await mode(join(n.root, "etc/k0s/k0s.yaml")), 0o600);
  assert.deepEqual(mutating(await n.k0sCalls()), [
    `install controller --enable-worker --no-taints --token-file ${tokenFile} -c ${
      join(n.root, "etc/k0s/k0s.yaml")
    }`,
    "start",
  ]);
  assert.match(r.stdout, /joined the cluster as a controller/);
});

Deno.test("install with a join config file joins; flags win over the file", async () => {
  await using n = await node();
  await Deno.writeTextFile(
    join(n.base, "join.yaml"),
    `join:\n  mode: controller\n  server: https://10.0.0.5:6443\n  token: from-config\n`,
  );
  // join.mode alone means join (a join file is never mistaken for a first install).
  const r = await runCli(
    [
      "-c",
      "join.yaml",
      "install",
      "--mode",
      "worker",
      "--token-file",
      "token",
      "--k0s-binary",
      FAKE_K0S,
      "--ignore-preflight-errors=root,ports",
      "--poll-interval",
      "20ms",
    ],
    { env: n.env, cwd: n.base },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /join\.mode is "controller": joining an existing cluster/);
  assert.equal(await Deno.readTextFile(join(n.root, "etc/k0s/worker-token")), TOKEN + "\n");
  assert.deepEqual(mutating(await n.k0sCalls())[0].split(" ").slice(0, 2), ["install", "worker"]);
});

Deno.test("install --join round trip: a worker joins with export-join-config's file", async () => {
  await using ctl = await node();
  // The controller: the fake k0s installed and running as a controller.
  await Deno.mkdir(join(ctl.root, "usr/local/bin"), { recursive: true });
  await Deno.copyFile(FAKE_K0S, join(ctl.root, "usr/local/bin/k0s"));
  const exported = await runCli(
    ["export-join-config", "--controller-ip", "10.0.0.5"],
    { env: { ...ctl.env, FAKE_K0S_RUNNING: "1", FAKE_K0S_ROLE: "controller" }, cwd: ctl.base },
  );
  assert.equal(exported.code, 0, exported.stderr);
  await using worker = await node();
  const file = join(ctl.base, "join-configs/worker-join.yaml");
  const r = await runCli(
    [
      "-c",
      file,
      "install",
      "--join",
      "--k0s-binary",
      FAKE_K0S,
      "--ignore-preflight-errors=root,ports",
      "--poll-interval",
      "20ms",
    ],
    { env: worker.env, cwd: worker.base },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    await Deno.readTextFile(join(worker.root, "etc/k0s/worker-token")),
    "fake-token-worker-24h\n",
  );
});

Deno.test("install --join skips the helm release-name check: a join installs no k0rdent", async () => {
  await using n = await node();
  // The first node's config: a release name kcm 1.2 would not read stops a first install at
  // preflight (tests/install_test.ts), never a join.
  const config = join(n.base, "k0rdentd.yaml");
  await Deno.writeTextFile(
    config,
    "k0rdent:\n  version: 1.2.0\n  helm:\n    releaseName: k0rdent\n",
  );
  const r = await n.install(["-c", config, "--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stderr.includes("release-name"), r.stderr);
});

Deno.test("install --join --airgap writes the registry drop-ins and skips the k0rdent chart check", async () => {
  await using n = await node();
  // A registry holding no k0rdent chart: the install's k0rdent-version check would fail.
  await using registry = await serveAirgapRegistry({ insecure: true });
  const r = await n.install([
    "--join",
    "--mode",
    "worker",
    "--token-file",
    "token",
    "--airgap",
    "--registry-insecure",
    "--registry-address",
    registry.address,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(registry.requests.some((r) => r.path === "/v2/"), "the registry preflight ran");
  const dropIns = join(n.root, "etc/k0s/containerd.d");
  assert.match(await Deno.readTextFile(join(dropIns, "cri-registry.toml")), /config_path/);
  assert.match(
    await Deno.readTextFile(join(dropIns, "certs.d/quay.io/hosts.toml")),
    new RegExp(`http://${registry.address}/v2/k0rdent-enterprise`),
  );
  // The registry address is itself local: no alias leads its local names elsewhere.
  const port = registry.address.split(":")[1];
  const hosts = (await Array.fromAsync(Deno.readDir(join(dropIns, "certs.d")))).map((e) => e.name);
  assert.ok(hosts.includes(registry.address), hosts.join(" "));
  assert.ok(!hosts.includes(`127.0.0.1:${port}`), hosts.join(" "));
});

Deno.test("install --join rerun on a joined node rewrites the registry drop-ins for a longer address list, and nothing else", async () => {
  await using n = await node();
  await using first = await serveAirgapRegistry({ insecure: true });
  await using replica = await serveAirgapRegistry({ insecure: true });
  const join_ = (addresses: string) =>
    n.install([
      "--join",
      "--mode",
      "worker",
      "--token-file",
      "token",
      "--airgap",
      "--registry-insecure",
      "--registry-address",
      addresses,
    ]);
  assert.equal((await join_(first.address)).code, 0);
  const hostsToml = join(n.root, "etc/k0s/containerd.d/certs.d/quay.io/hosts.toml");
  const hosts = async () => Object.keys(parse(await Deno.readTextFile(hostsToml)).host as object);
  const url = (address: string) => `http://${address}/v2/k0rdent-enterprise`;
  assert.deepEqual(await hosts(), [url(first.address)]);
  const calls = mutating(await n.k0sCalls());
  const again = await join_(`${first.address},${replica.address}`);
  assert.equal(again.code, 0, again.stderr);
  assert.match(
    again.stdout,
    /already runs k0s .* as a worker; registry settings brought up to date/,
  );
  assert.deepEqual(await hosts(), [url(first.address), url(replica.address)]);
  assert.deepEqual(mutating(await n.k0sCalls()), calls, "k0s is not joined again");
  const same = await join_(`${first.address},${replica.address}`);
  assert.match(same.stdout, /already runs k0s .* as a worker; nothing changed/);
});

// The registry at a non-loopback address: this host's own IPv4 on a port nothing listens on, so
// the registry preflight (ignored) fails at once with "connection refused"; only the drop-ins
// are checked, nothing is pulled.
const OWN_IP = pickNodeAddress(Deno.networkInterfaces());

Deno.test({
  ...ignoreIf(
    "install --join --airgap maps the first node's localhost registry names to the registry it reaches",
    OWN_IP === undefined ? "no non-loopback IPv4 address on this host" : undefined,
  ),
  async fn() {
    const port = freePort();
    const reachable = `${OWN_IP}:${port}`;
    for (const role of ["worker", "controller"]) {
      await using n = await node();
      const r = await n.install([
        "--join",
        "--mode",
        role,
        "--token-file",
        "token",
        "--airgap",
        "--registry-address",
        reachable,
        "--ignore-preflight-errors=root,ports,registry",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const certsD = join(n.root, "etc/k0s/containerd.d/certs.d");
      for (const alias of [`localhost:${port}`, `127.0.0.1:${port}`]) {
        const hosts = parse(await Deno.readTextFile(join(certsD, alias, "hosts.toml")));
        assert.equal(hosts.server, `https://${reachable}`, `${role}: ${alias}`);
        assert.deepEqual(Object.keys(hosts.host as object), [`https://${reachable}`]);
      }
    }
  },
});

Deno.test("install --join waits for Ready and fails with the phase and a hint on timeout", async () => {
  await using n = await node();
  const r = await n.install(
    ["--join", "--mode", "worker", "--token-file", "token", "--timeout", "200ms"],
    { FAKE_NODE_NOT_READY: "1" },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Phase "wait-joined"/);
  assert.match(r.stderr, /journalctl -u k0sworker/);
  // The rerun resumes: install and token are done, only the wait is left.
  const before = (await n.k0sCalls()).length;
  const again = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(mutating((await n.k0sCalls()).slice(before)), []);
});

Deno.test("install --join refuses a node running k0s in the other role", async () => {
  await using n = await node();
  await Deno.mkdir(join(n.root, "etc/systemd/system"), { recursive: true });
  await Deno.writeTextFile(join(n.root, "etc/systemd/system/k0scontroller.service"), "x");
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already has the k0s controller service: it cannot join as a worker/);
  assert.deepEqual(mutating(await n.k0sCalls()), []);
});

Deno.test("install --join --dry-run plans the join and changes nothing", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /^Joining as a worker\nDry run: \d+ change\(s\) planned, nothing was changed/,
  );
  assert.match(r.stdout, /install worker --token-file/);
  await assert.rejects(() => Deno.stat(join(n.root, "etc/k0s")));
  await assert.rejects(() => Deno.stat(join(n.root, "usr/local/bin/k0s")));
  assert.deepEqual(mutating(await n.k0sCalls()), []);
});

Deno.test("install --join rejects incomplete or conflicting join flags", async () => {
  await using n = await node();
  await Deno.writeTextFile(join(n.base, "worker-join.yaml"), `join:\n  mode: worker\n  token: x\n`);
  for (
    const [args, code, pattern] of [
      [["--join", "--token-file", "token"], 2, /needs --mode controller\|worker/],
      [["--join", "--mode", "worker"], 2, /needs a join token/],
      [["--join", "--mode", "boss", "--token", "t"], 2, /Invalid --mode "boss"/],
      [
        ["--join", "--mode", "worker", "--token", "t", "--token-file", "token"],
        2,
        /either --token or --token-file/,
      ],
      [["--mode", "worker", "--token-file", "token"], 2, /need --join/],
      [
        ["--join", "--mode", "worker", "--token-file", "missing"],
        1,
        /Cannot read join token file "missing"/,
      ],
      [
        ["--join", "--mode", "worker", "--token-file", "worker-join.yaml"],
        1,
        /"worker-join.yaml" is a join config: pass it with -c/,
      ],
    ] as const
  ) {
    const r = await n.install([...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  assert.deepEqual(await n.k0sCalls(), []);
});

Deno.test("uninstall on a joined worker stops and resets k0s and removes the join token", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 0, r.stderr);
  const before = (await n.k0sCalls()).length;
  const u = await runCli(["uninstall", "--force"], { env: n.env, cwd: n.base });
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual(mutating((await n.k0sCalls()).slice(before)), ["stop", "reset"]);
  for (const left of ["etc/systemd/system/k0sworker.service", "var/lib/k0s", "usr/local/bin/k0s"]) {
    await assert.rejects(() => Deno.stat(join(n.root, left)), `${left} is left`);
  }
  // k0s reset keeps /etc/k0s (pkg/cleanup/directories.go): the token k0rdentd wrote there goes.
  await assert.rejects(() => Deno.stat(join(n.root, "etc/k0s/worker-token")), "the token is left");
});

Deno.test("uninstall on a worker whose join stopped before k0s start resets the worker service", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 0, r.stderr);
  // What `k0s install worker` leaves before any `k0s start`: the unit, no data dir
  // (k0s v1.32.8+k0s.0 cmd/install/worker.go installs the service only).
  await Deno.remove(join(n.root, "run/fake-k0s.running"));
  await Deno.remove(join(n.root, "var/lib/k0s"), { recursive: true });
  const before = (await n.k0sCalls()).length;
  const u = await runCli(["uninstall", "--force"], { env: n.env, cwd: n.base });
  assert.equal(u.code, 0, u.stderr);
  assert.deepEqual(mutating((await n.k0sCalls()).slice(before)), ["reset"]);
  await assert.rejects(
    () => Deno.stat(join(n.root, "etc/systemd/system/k0sworker.service")),
    "the worker service is left, enabled at boot",
  );
});

Deno.test("status on a joined worker reads the nodes with the kubelet's credentials and is healthy", async () => {
  await using n = await node();
  const r = await n.install(["--join", "--mode", "worker", "--token-file", "token"]);
  assert.equal(r.code, 0, r.stderr);
  const s = await runCli(["status", "--output", "json"], { env: n.env, cwd: n.base });
  assert.equal(s.code, 0, s.stdout + s.stderr);
  const status = JSON.parse(s.stdout);
  assert.deepEqual(status.problems, []);
  assert.equal(status.k0s.role, "worker");
  assert.deepEqual(status.nodes, [{ name: NODE, ready: true }]);
  assert.equal(status.k0rdent, null);
  assert.ok(
    (await n.k0sCalls()).some((c) =>
      c.startsWith("kubectl --kubeconfig") && c.includes("var/lib/k0s/kubelet.conf")
    ),
  );
});

import assert from "node:assert/strict";
import { HostMutator } from "../host/mutator.ts";
import { FakeRunner } from "../process/fake_runner.ts";
import type { RunOptions, RunResult } from "../process/runner.ts";
import {
  installArgs,
  K0sCli,
  listImagesArgs,
  parseImageList,
  parseStatusJson,
  parseStatusText,
  READ_TIMEOUT_MS,
  tokenCreateArgs,
} from "./k0s_cli.ts";

const TEXT = `Version: v1.33.4+k0s.0
Process ID: 1817
Role: controller
Workloads: true
SingleNode: false
Kube-api probing successful: true
Kube-api probing last error:  
Init System: linux-systemd
Service file: /etc/systemd/system/k0scontroller.service
`;

Deno.test("parseStatusText() reads every field of k0s status", () => {
  assert.deepStrictEqual(parseStatusText(TEXT), {
    version: "v1.33.4+k0s.0",
    pid: 1817,
    role: "controller",
    workloads: true,
    singleNode: false,
    apiProbeOk: true,
    apiProbeError: "",
    initSystem: "linux-systemd",
    serviceFile: "/etc/systemd/system/k0scontroller.service",
  });
});

Deno.test("parseStatusJson() reads k0s status -o json, probe failure included", () => {
  const status = parseStatusJson(JSON.stringify({
    Version: "v1.32.8+k0s.0",
    Pid: 42,
    Role: "controller+worker",
    SysInit: "linux-openrc",
    StubFile: "/etc/init.d/k0scontroller",
    Workloads: true,
    SingleNode: true,
    WorkerToAPIConnectionStatus: { Success: false, Message: "connection refused" },
  }));
  assert.equal(status.apiProbeOk, false);
  assert.equal(status.apiProbeError, "connection refused");
  assert.equal(status.singleNode, true);
  assert.equal(status.initSystem, "linux-openrc");
  assert.throws(() => parseStatusJson('{"Pid": 1}'));
});

Deno.test("installArgs() and tokenCreateArgs() build k0s argv", () => {
  assert.deepStrictEqual(
    installArgs({
      role: "controller",
      enableWorker: true,
      noTaints: true,
      configPath: "/etc/k0s/k0s.yaml",
    }),
    ["install", "controller", "--enable-worker", "--no-taints", "-c", "/etc/k0s/k0s.yaml"],
  );
  assert.deepStrictEqual(
    installArgs({ role: "worker", tokenFile: "/etc/k0s/join.token" }),
    ["install", "worker", "--token-file", "/etc/k0s/join.token"],
  );
  assert.deepStrictEqual(tokenCreateArgs("worker", "1h"), [
    "token",
    "create",
    "--role=worker",
    "--expiry=1h",
  ]);
});

Deno.test("K0sCli: changes go through the mutator (dry-run runs nothing), reads through the runner", async () => {
  const root = await Deno.makeTempDir();
  const runner = new FakeRunner()
    .on(/ status -o json$/, { code: 1, stderrTail: 'Error: status: can\'t get "status"' })
    .on(/ version$/, { stdout: "v1.32.8+k0s.0\n" });
  const binary = "/k0s";
  await Deno.writeTextFile(`${root}${binary}`, "#!/bin/sh\n");
  try {
    const dry = new HostMutator(runner, true, (p) => root + p);
    const k0s = new K0sCli({ runner, host: dry, binary });
    assert.equal(await k0s.version(), "v1.32.8+k0s.0");
    assert.equal(await k0s.status(), null);
    await k0s.start();
    await k0s.install({ role: "controller", enableWorker: true });
    assert.deepStrictEqual(runner.commandLines, [
      `${root}/k0s version`,
      `${root}/k0s status -o json`,
    ]);
    assert.deepStrictEqual(dry.changes, [
      "run /k0s start",
      "run /k0s install controller --enable-worker",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("K0sCli: reads are limited to READ_TIMEOUT_MS, changes to the command timeout", async () => {
  const root = await Deno.makeTempDir();
  const limits: Record<string, number | undefined> = {};
  const runner = {
    run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
      limits[argv[1]] = options.timeoutMs;
      return Promise.resolve({
        code: 0,
        stdout: "v1.32.8+k0s.0\n",
        stderrTail: "",
        timedOut: false,
      });
    },
  };
  await Deno.writeTextFile(`${root}/k0s`, "#!/bin/sh\n");
  try {
    const host = new HostMutator(runner, false, (p) => root + p);
    const k0s = new K0sCli({ runner, host, binary: "/k0s", timeoutMs: 600_000 });
    await k0s.version();
    await k0s.status().catch(() => null);
    await k0s.kubectl(["get", "nodes"]);
    await k0s.start();
    assert.deepStrictEqual(limits, {
      version: READ_TIMEOUT_MS,
      status: READ_TIMEOUT_MS,
      kubectl: READ_TIMEOUT_MS,
      start: 600_000,
    });
    const short = new K0sCli({ runner, host, binary: "/k0s", timeoutMs: 5_000 });
    await short.version();
    assert.equal(limits.version, 5_000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("listImagesArgs() builds k0s airgap list-images argv, -c only with a file", () => {
  assert.deepStrictEqual(listImagesArgs("/tmp/x/k0s.yaml"), [
    "airgap",
    "list-images",
    "-c",
    "/tmp/x/k0s.yaml",
  ]);
  assert.deepStrictEqual(listImagesArgs(), ["airgap", "list-images"]);
});

Deno.test("parseImageList() takes one image a line and drops blank lines", () => {
  assert.deepStrictEqual(
    parseImageList("r:5000/p/k0sproject/coredns:1.12.2\n\n  r:5000/p/pause:3.9 \n"),
    ["r:5000/p/k0sproject/coredns:1.12.2", "r:5000/p/pause:3.9"],
  );
  assert.deepStrictEqual(parseImageList(""), []);
});

Deno.test("K0sCli.listImages() runs a k0s outside the host paths as given, through the runner", async () => {
  const runner = new FakeRunner()
    .on("/opt/k0s-v1.32.6 airgap list-images -c /tmp/k0s.yaml", {
      stdout: "r/k0sproject/kube-proxy:v1.32.6\nr/pause:3.9\n",
    });
  const host = new HostMutator(runner, true, (p) => "/root-prefix" + p);
  const k0s = new K0sCli({ runner, host, program: "/opt/k0s-v1.32.6" });
  assert.equal(k0s.program, "/opt/k0s-v1.32.6", "not mapped under the root prefix");
  assert.deepStrictEqual(await k0s.listImages("/tmp/k0s.yaml"), [
    "r/k0sproject/kube-proxy:v1.32.6",
    "r/pause:3.9",
  ]);
  runner.on(/list-images/, { code: 1, stderrTail: "Error: failed to get config: open x" });
  await assert.rejects(k0s.listImages("x"), /failed to get config: open x/);
  assert.deepStrictEqual(host.changes, [], "a read, not a change");
});

/**
 * The k0s upgrade phase (`src/upgrade/phases/k0s_upgrade.ts`) through `runPhases` on a fake host:
 * the fake k0s (copies with baked versions, like release binaries), the fake kubectl's nodes and
 * autopilot (`tests/fakes/kubectl_autopilot.sh`: downloads each node's binary with curl and checks
 * its sha256), the registry's own files listener and registry app on real sockets.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { HOST } from "../src/host/paths.ts";
import type { InstallContext } from "../src/install/phase.ts";
import { k0sYaml } from "../src/install/phases/k0s_config.ts";
import { containerdMirrorsPhase } from "../src/install/phases/containerd_mirrors.ts";
import { CRI_REGISTRY_FILE, criRegistryToml } from "../src/k0s/containerd_mirrors.ts";
import { PhaseError, runPhases } from "../src/install/run_phases.ts";
import { autopilotPlan, parsePlanStatus } from "../src/k0s/autopilot_plan.ts";
import { createFilesHandler } from "../src/registry/http/files.ts";
import { openK0sBinaryStore } from "../src/registry/storage/k0s_binaries.ts";
import { openMemoryStorage } from "../src/registry/storage/storage.ts";
import { formatK0sUpgrade, k0sUpgradePhase } from "../src/upgrade/phases/k0s_upgrade.ts";
import { upgradePreflightPhase } from "../src/upgrade/phases/preflight.ts";
import { FakeHost, fakeK0sImages } from "./helpers/fake_host.ts";
import { serveRegistry } from "./helpers/registry_server.ts";
import { storeIndex, storeManifest } from "./helpers/store_image.ts";
import { needsTools } from "./helpers/tools.ts";
import {
  hostRunner,
  installRunningK0s,
  upgradeContext,
  type UpgradeContextOptions,
  writeFakeK0s,
} from "./helpers/upgrade_host.ts";

// A Plan edited into shapes the CRD refuses.
// deno-lint-ignore no-explicit-any
type Json = any;

const OLD = "v1.32.8+k0s.0";
const NEW = "v1.33.4+k0s.0";
const THREE_NODES = "node-1:controller+worker node-2:controller+worker node-3:worker";
const PREFIX = "k0rdent-enterprise";

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The new k0s as `--k0s-binary` (a file outside the root); returns its path and bytes. */
async function newK0s(host: FakeHost, version = NEW): Promise<{ path: string; bytes: Uint8Array }> {
  const path = join(host.dir, `k0s-new-${version}`);
  return { path, bytes: await writeFakeK0s(path, version) };
}

async function installedVersion(host: FakeHost): Promise<string> {
  const text = await Deno.readTextFile(join(host.root, HOST.k0sBinary));
  return /^baked_version="(.*)"$/m.exec(text)?.[1] ?? "";
}

/** k0s 1.35 and 1.36: containerd 1.7 and 2.x, whose config schemas refuse each other's drop-ins. */
const [BEFORE_136, FROM_136] = ["v1.35.1+k0s.0", "v1.36.1+k0s.0"];

/**
 * k0s `version` installed and running, with the registry drop-ins an install with
 * `--registry-mirror` wrote for it (containerd 1.7's schema for 1.35).
 */
async function runningWithDropIns(
  host: FakeHost,
  version: string,
  env: Record<string, string> = {},
) {
  await installRunningK0s(host, version, { env });
  await runPhases(
    [containerdMirrorsPhase],
    upgradeContext(host, { env, options: { mirror: true } }),
    "rerun",
  );
}

async function upgrade(ctx: InstallContext) {
  return await runPhases([k0sUpgradePhase], ctx, "rerun");
}

/** The Plans the fake kubectl was given (JSON on stdin). */
async function appliedPlans(host: FakeHost): Promise<Json[]> {
  return (await host.stdinLog()).split(/^== /m).filter((b) => b.includes('"kind": "Plan"'))
    .map((b) => JSON.parse(b.slice(b.indexOf("\n") + 1)));
}

Deno.test(
  await needsTools(
    "k0s upgrade, single node: binary swap and restart, then a rerun changes nothing",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    await installRunningK0s(host, OLD);
    const { path } = await newK0s(host);
    const ctx = upgradeContext(host, { options: { k0sBinary: path } });

    const results = await upgrade(ctx);
    assert.deepStrictEqual(results.map((r) => r.status), ["done"]);
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
    assert.equal(await installedVersion(host), NEW);
    assert.deepStrictEqual(ctx.facts.k0sUpgrade, {
      from: OLD,
      to: NEW,
      change: "upgrade",
      method: "swap",
      nodes: [{ name: "node-1", version: NEW }],
    });
    assert.deepStrictEqual(formatK0sUpgrade(ctx.facts.k0sUpgrade!), [
      `k0s ${OLD} → ${NEW} (binary swap and restart)`,
      `  node-1: ${NEW}`,
    ]);
    // No temp file is left beside the binary.
    assert.deepStrictEqual(
      [...Deno.readDirSync(join(host.root, "usr/local/bin"))].map((e) => e.name),
      ["k0s"],
    );

    await host.clearCalls();
    const again = upgradeContext(host, { options: { k0sBinary: path } });
    assert.deepStrictEqual((await upgrade(again)).map((r) => r.status), ["skipped"]);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(again.facts.k0sUpgrade?.change, "same");
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade, single node, 1.35 to 1.36 with registry drop-ins: they move to containerd 2's schema before the new k0s starts",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const [from, to] = [BEFORE_136, FROM_136];
    await runningWithDropIns(host, from);
    const cri = join(host.root, HOST.containerdDropIns, CRI_REGISTRY_FILE);
    assert.equal(await Deno.readTextFile(cri), criRegistryToml(from));
    assert.match(await Deno.readTextFile(cri), /^version = 2$/m);
    await host.clearCalls();

    // k0s 1.36 refuses a version 2 snippet and never runs (the fake dies like it): the upgrade
    // would wait for it until the timeout.
    const { path } = await newK0s(host, to);
    const ctx = upgradeContext(host, {
      options: { mirror: true, k0sBinary: path, kubernetesTimeoutMs: 3_000 },
    });
    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    assert.equal(await installedVersion(host), to);
    assert.equal(await Deno.readTextFile(cri), criRegistryToml(to));
    assert.match(await Deno.readTextFile(cri), /^version = 3$/m);
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
    assert.equal(await Deno.readTextFile(join(host.state, "k0s-running")), `${to}\n`);
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade, three nodes across 1.36 with registry drop-ins: refused before any Plan (the new k0s would refuse every node's drop-ins)",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const [from, to] = [BEFORE_136, FROM_136];
    const env = { FAKE_CLUSTER_NODES: THREE_NODES, FAKE_CLUSTER_K0S_VERSION: from };
    await runningWithDropIns(host, from, env);
    await host.clearCalls();
    const { path } = await newK0s(host, to);
    const ctx = upgradeContext(host, { env, options: { mirror: true, k0sBinary: path } });
    await assert.rejects(upgrade(ctx), (err: unknown) => {
      assert.ok(err instanceof PhaseError, String(err));
      assert.match(
        err.message,
        /Cannot upgrade node-1 \(k0s v1\.35\.1\+k0s\.0\), node-2 \(k0s v1\.35\.1\+k0s\.0\), node-3 \(k0s v1\.35\.1\+k0s\) to k0s v1\.36\.1\+k0s\.0 with autopilot: k0s 1\.36 changes containerd's config schema \(to version 3\).*no node was changed/,
      );
      return true;
    });
    assert.deepStrictEqual(await appliedPlans(host), []);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await installedVersion(host), from);
  },
);

Deno.test(
  await needsTools(
    "upgrade preflight: three nodes across 1.36 with registry drop-ins are refused before k0rdent or k0s changes",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const [from, to] = [BEFORE_136, FROM_136];
    const env = { FAKE_CLUSTER_NODES: THREE_NODES, FAKE_CLUSTER_K0S_VERSION: from };
    await runningWithDropIns(host, from, env);
    // k0rdent is installed: the fake cluster has kcm's Management (tests/fakes/kubectl_k0rdent.sh).
    await Deno.writeTextFile(join(host.state, "helm-release"), "kcm\n");
    await Deno.writeTextFile(join(host.state, "mgmt-release"), "kcm-1-2-0\n");
    await host.clearCalls();
    const { path } = await newK0s(host, to);
    const ctx = upgradeContext(host, { env, options: { mirror: true, k0sBinary: path } });
    await assert.rejects(runPhases([upgradePreflightPhase], ctx, "rerun"), (err: unknown) => {
      assert.ok(err instanceof PhaseError, String(err));
      assert.match(err.message, /Cannot upgrade node-1 .* to k0s v1\.36\.1\+k0s\.0 with autopilot/);
      assert.match(err.message, /nothing was changed/);
      return true;
    });
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade, single node, rerun after a stop between the swap and the drop-in rewrite: the drop-ins are rewritten before k0s starts",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const [from, to] = [BEFORE_136, FROM_136];
    await runningWithDropIns(host, from);
    // What a run interrupted after the swap leaves: k0s stopped, the new binary in place, the
    // drop-ins still in containerd 1.7's schema.
    const runner = hostRunner(host);
    const binary = join(host.root, HOST.k0sBinary);
    assert.equal((await runner.run([binary, "stop"])).code, 0);
    await writeFakeK0s(binary, to);
    await host.clearCalls();
    const { path } = await newK0s(host, to);
    const ctx = upgradeContext(host, {
      options: { mirror: true, k0sBinary: path, kubernetesTimeoutMs: 3_000 },
    });
    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    const cri = join(host.root, HOST.containerdDropIns, CRI_REGISTRY_FILE);
    assert.equal(await Deno.readTextFile(cri), criRegistryToml(to));
    assert.equal(await Deno.readTextFile(join(host.state, "k0s-running")), `${to}\n`);
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade, single node across 1.36 without the install's --registry-mirror: refused before k0s stops, naming the drop-ins",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const [from, to] = [BEFORE_136, FROM_136];
    await runningWithDropIns(host, from);
    await host.clearCalls();
    const { path } = await newK0s(host, to);
    const ctx = upgradeContext(host, { options: { k0sBinary: path, kubernetesTimeoutMs: 3_000 } });
    await assert.rejects(upgrade(ctx), (err: unknown) => {
      assert.ok(err instanceof PhaseError, String(err));
      assert.match(
        err.message,
        /registry drop-ins \(\/etc\/k0s\/containerd\.d\/cri-registry\.toml\)/,
      );
      assert.match(err.message, /--registry-mirror/);
      return true;
    });
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await installedVersion(host), from);
  },
);

/** An air gap: the registry app with `images` under the prefix, and the files listener. */
async function airgap(host: FakeHost, images: readonly string[]) {
  const storage = openMemoryStorage();
  for (const image of images) {
    const at = image.lastIndexOf(":");
    const repository = `${PREFIX}/${image.slice(0, at)}`;
    if (repository.endsWith("/pause")) await storeIndex(storage, repository, image.slice(at + 1));
    else await storeManifest(storage, repository, "amd64", image.slice(at + 1));
  }
  const registry = serveRegistry(storage);
  const storageDir = join(host.dir, "registry");
  await Deno.mkdir(storageDir, { recursive: true });
  const store = openK0sBinaryStore(storageDir);
  const files = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createFilesHandler({ store, prefix: PREFIX }),
  );
  const how = (k0sBinary: string, extra: UpgradeContextOptions = {}): UpgradeContextOptions => ({
    ...extra,
    options: { airgap: true, mirror: true, k0sBinary, ...extra.options },
    config: (c) => {
      c.airgap.registry.address = registry.address;
      c.airgap.registry.advertiseAddress = registry.address;
      c.airgap.registry.prefix = PREFIX;
      c.airgap.registry.insecure = true;
      c.registry.prefix = PREFIX;
      c.registry.filesPort = files.addr.port;
      c.registry.storage = storageDir;
    },
  });
  return {
    store,
    how,
    fileUrl: (name: string) => `http://127.0.0.1:${files.addr.port}/${PREFIX}/${name}`,
    async [Symbol.asyncDispose]() {
      await files.shutdown();
      await registry[Symbol.asyncDispose]();
    },
  };
}

Deno.test(
  await needsTools(
    "k0s upgrade, three nodes in an air gap: an autopilot Plan on the files listener, sha256 pinned; a rerun changes nothing",
    "jq",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const env = { FAKE_CLUSTER_NODES: THREE_NODES };
    const { path, bytes } = await newK0s(host);
    await using gap = await airgap(host, await fakeK0sImages(NEW));
    const ctx = upgradeContext(host, gap.how(path, { env }));
    await installRunningK0s(host, OLD, { env, k0sYaml: k0sYaml(ctx) });
    const name = `k0s-${NEW}-amd64`;

    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    // The binary went into the registry storage, and the files listener serves it.
    const served = await fetch(gap.fileUrl(name));
    assert.equal(served.status, 200);
    assert.equal(sha256(new Uint8Array(await served.arrayBuffer())), sha256(bytes));
    const plans = await appliedPlans(host);
    assert.equal(plans.length, 1);
    assert.deepStrictEqual(plans[0], {
      apiVersion: "autopilot.k0sproject.io/v1beta2",
      kind: "Plan",
      metadata: { name: "autopilot" },
      spec: {
        id: `k0rdentd-${NEW}`,
        timestamp: (plans[0].spec as { timestamp: string }).timestamp,
        commands: [{
          k0supdate: {
            version: NEW,
            platforms: { "linux-amd64": { url: gap.fileUrl(name), sha256: sha256(bytes) } },
            targets: {
              controllers: { discovery: { static: { nodes: ["node-1", "node-2"] } } },
              workers: { discovery: { static: { nodes: ["node-3"] } } },
            },
          },
        }],
      },
    });
    assert.ok(!Number.isNaN(Date.parse((plans[0].spec as { timestamp: string }).timestamp)));
    assert.deepStrictEqual(await host.mutatingCalls(), ["kubectl apply --server-side -f -"]);
    // Autopilot replaced this host's binary too (the fake downloads it from the URL).
    assert.equal(await installedVersion(host), NEW);
    assert.deepStrictEqual(ctx.facts.k0sUpgrade, {
      from: OLD,
      to: NEW,
      change: "upgrade",
      method: "autopilot",
      nodes: [
        { name: "node-1", version: NEW },
        { name: "node-2", version: NEW },
        { name: "node-3", version: "v1.33.4+k0s" },
      ],
    });

    await host.clearCalls();
    const again = upgradeContext(host, gap.how(path, { env }));
    assert.deepStrictEqual((await upgrade(again)).map((r) => r.status), ["skipped"]);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools("k0s upgrade refuses a minor skip and a downgrade before any change", "jq"),
  async () => {
    await using host = await FakeHost.create();
    await installRunningK0s(host, OLD);
    const skip = await newK0s(host, "v1.34.1+k0s.0");
    await assert.rejects(
      upgrade(upgradeContext(host, { options: { k0sBinary: skip.path } })),
      (err: Error) => {
        assert.ok(err instanceof PhaseError);
        assert.match(
          err.message,
          /Refusing to upgrade k0s from v1\.32\.8\+k0s\.0 to v1\.34\.1\+k0s\.0: k0s upgrades one minor version at a time \(to v1\.33\.x first\)/,
        );
        return true;
      },
    );
    const older = await newK0s(host, "v1.32.6+k0s.0");
    await assert.rejects(
      upgrade(upgradeContext(host, { options: { k0sBinary: older.path } })),
      /Refusing to downgrade k0s from v1\.32\.8\+k0s\.0 to v1\.32\.6\+k0s\.0: .*--allow-downgrade/,
    );
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await installedVersion(host), OLD);

    // --allow-downgrade: the same swap, to the older k0s.
    const ctx = upgradeContext(host, { options: { k0sBinary: older.path, allowDowngrade: true } });
    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    assert.equal(await installedVersion(host), "v1.32.6+k0s.0");
    assert.equal(ctx.facts.k0sUpgrade?.change, "downgrade");
  },
);

Deno.test(
  await needsTools("k0s upgrade of several nodes refuses to start while a node is not Ready", "jq"),
  async () => {
    await using host = await FakeHost.create();
    const env = { FAKE_CLUSTER_NODES: THREE_NODES, FAKE_NODE_READY_AFTER: "1000" };
    await installRunningK0s(host, OLD, { env });
    const { path } = await newK0s(host);
    await assert.rejects(
      upgrade(upgradeContext(host, { env, options: { k0sBinary: path } })),
      /Cannot upgrade k0s while node\(s\) node-1, node-2, node-3 are not Ready: fix or remove them first \(nothing was changed\)/,
    );
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade in an air gap refuses a k0s whose images the registry lacks, before any change",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const { path } = await newK0s(host);
    // The registry holds the old k0s's images only.
    await using gap = await airgap(host, await fakeK0sImages(OLD));
    const ctx = upgradeContext(host, gap.how(path));
    await installRunningK0s(host, OLD, { k0sYaml: k0sYaml(ctx) });
    await assert.rejects(
      upgrade(ctx),
      /Cannot upgrade k0s to v1\.33\.4\+k0s\.0: 6 of 10 k0s v1\.33\.4\+k0s\.0 images are missing from the registry: .*kube-proxy:v1\.33\.4.*; load the bundle that carries them first \(nothing was changed\)/,
    );
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await installedVersion(host), OLD);
    assert.deepStrictEqual(await gap.store.list(), []);
  },
);

Deno.test(
  await needsTools("k0s upgrade, single node: a failed restart is finished by a rerun", "jq"),
  async () => {
    await using host = await FakeHost.create();
    await installRunningK0s(host, OLD);
    const { path } = await newK0s(host);
    await host.inject("k0s-start");
    await assert.rejects(
      upgrade(upgradeContext(host, { options: { k0sBinary: path } })),
      /fake failure injected at k0s-start/,
    );
    // Stopped, swapped, not started.
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
    assert.equal(await installedVersion(host), NEW);

    await host.inject(null);
    await host.clearCalls();
    const ctx = upgradeContext(host, { options: { k0sBinary: path } });
    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s start"]);
    assert.deepStrictEqual(ctx.facts.k0sUpgrade?.nodes, [{ name: "node-1", version: NEW }]);
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade, three nodes: a Plan that fails on a worker is replaced by a rerun, which finishes",
    "jq",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const env = { FAKE_CLUSTER_NODES: THREE_NODES };
    const { path } = await newK0s(host);
    await using gap = await airgap(host, await fakeK0sImages(NEW));
    await installRunningK0s(host, OLD, {
      env,
      k0sYaml: k0sYaml(upgradeContext(host, gap.how(path))),
    });
    await Deno.writeTextFile(join(host.state, "fail"), "autopilot-worker\n");
    await assert.rejects(
      upgrade(upgradeContext(host, gap.how(path, { env }))),
      /autopilot Plan "autopilot" ended in state ApplyFailed \(node-3 SignalApplyFailed\); fix the cause and rerun/,
    );
    // The controllers were updated before the worker failed.
    assert.equal(await installedVersion(host), NEW);

    await host.inject(null);
    await host.clearCalls();
    const ctx = upgradeContext(host, gap.how(path, { env }));
    assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
    assert.deepStrictEqual(await host.mutatingCalls(), [
      "kubectl delete plan autopilot --ignore-not-found",
      "kubectl apply --server-side -f -",
    ]);
    assert.deepStrictEqual(ctx.facts.k0sUpgrade?.nodes.map((n) => n.version), [
      NEW,
      NEW,
      "v1.33.4+k0s",
    ]);
    // The binary was stored once; the second Plan uses it as it is.
    assert.deepStrictEqual((await gap.store.list()).map((b) => b.name), [`k0s-${NEW}-amd64`]);
  },
);

Deno.test(
  await needsTools("k0s upgrade under dry-run: the plan lists the changes, nothing changes", "jq"),
  async () => {
    await using host = await FakeHost.create();
    const { path } = await newK0s(host);
    await using gap = await airgap(host, await fakeK0sImages(NEW));
    const env = { FAKE_CLUSTER_NODES: THREE_NODES };
    await installRunningK0s(host, OLD, {
      env,
      k0sYaml: k0sYaml(upgradeContext(host, gap.how(path))),
    });
    const multi = upgradeContext(host, gap.how(path, { env, dryRun: true }));
    assert.deepStrictEqual((await upgrade(multi)).map((r) => r.status), ["planned"]);
    const name = `k0s-${NEW}-amd64`;
    assert.deepStrictEqual(multi.host.changes, [
      `store ${name} in the registry storage ${join(host.dir, "registry")} (served as ${
        gap.fileUrl(name)
      })`,
      `run /usr/local/bin/k0s kubectl apply --server-side -f - (autopilot Plan "autopilot": k0s ${NEW} on 2 controller(s) and 1 worker(s), binaries ${
        gap.fileUrl(name)
      })`,
    ]);

    assert.deepStrictEqual(multi.facts.k0sUpgrade, {
      from: OLD,
      to: NEW,
      change: "upgrade",
      method: "autopilot",
      nodes: [
        { name: "node-1", version: OLD },
        { name: "node-2", version: OLD },
        { name: "node-3", version: "v1.32.8+k0s" },
      ],
    });

    const single = upgradeContext(host, gap.how(path, { dryRun: true }));
    assert.deepStrictEqual((await upgrade(single)).map((r) => r.status), ["planned"]);
    assert.deepStrictEqual(single.host.changes, [
      "run /usr/local/bin/k0s stop",
      `install k0s ${NEW} from "${path}" as /usr/local/bin/k0s`,
      "run /usr/local/bin/k0s start",
    ]);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await installedVersion(host), OLD);
    assert.deepStrictEqual(await gap.store.list(), []);
  },
);

Deno.test(
  await needsTools(
    "the fake autopilot refuses what the Plan CRD refuses, ignores other names, fails a wrong sha256",
    "jq",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const env = { FAKE_CLUSTER_NODES: THREE_NODES, FAKE_PLAN_COMPLETE_AFTER: "1" };
    await installRunningK0s(host, OLD, { env });
    const { bytes } = await newK0s(host);
    const ctx = upgradeContext(host, { env });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(bytes as BodyInit),
    );
    try {
      const url = `http://127.0.0.1:${server.addr.port}/k0s`;
      const plan = (edit: (p: Json) => void = () => {}) => {
        const p: Json = autopilotPlan({
          version: NEW,
          platforms: { "linux-amd64": { url, sha256: sha256(bytes) } },
          controllers: ["node-1", "node-2"],
          workers: ["node-3"],
          id: "id",
          timestamp: "now",
        });
        edit(p);
        return JSON.stringify(p, null, 2);
      };
      const apply = (text: string) =>
        ctx.k0s.kubectlApply(["apply", "--server-side", "-f", "-"], text);
      await assert.rejects(
        apply(plan((p) => delete p.spec.id)),
        /The Plan "autopilot" is invalid: spec\.id: Required value/,
      );
      await assert.rejects(
        apply(plan((p) => delete p.spec.commands[0].k0supdate.platforms["linux-amd64"].url)),
        /spec\.commands\[0\]\.k0supdate\.platforms\.linux-amd64\.url: Required value/,
      );
      await assert.rejects(
        apply(plan((p) => p.apiVersion = "autopilot.k0sproject.io/v1beta1")),
        /no matches for kind "Plan" in version "autopilot\.k0sproject\.io\/v1beta1"/,
      );
      // Another name is stored but autopilot never acts on it.
      await apply(plan((p) => p.metadata.name = "upgrade"));
      assert.equal(await ctx.kubectl.getJson(["plan", "autopilot"]), null);
      const other = parsePlanStatus(await ctx.kubectl.getJson(["plan", "upgrade"]));
      assert.equal(other.state, "");
      // A digest that does not match the download fails the node and the Plan.
      await ctx.k0s.kubectlApply(["delete", "plan", "autopilot", "--ignore-not-found"]);
      await apply(
        plan((p) => p.spec.commands[0].k0supdate.platforms["linux-amd64"].sha256 = "0".repeat(64)),
      );
      const status = parsePlanStatus(await ctx.kubectl.getJson(["plan", "autopilot"]));
      assert.equal(status.state, "ApplyFailed");
      assert.deepStrictEqual(status.nodes[0], {
        name: "node-1",
        role: "controller",
        state: "SignalApplyFailed",
      });
      assert.equal(await installedVersion(host), OLD);
    } finally {
      await server.shutdown();
    }
  },
);

Deno.test(
  await needsTools(
    "k0s upgrade online, amd64 and arm64 nodes: release URLs, the other arch's sha256 from sha256sums.txt",
    "jq",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const env = { FAKE_CLUSTER_NODES: "node-1:controller+worker node-2:worker:arm64" };
    await installRunningK0s(host, OLD, { env });
    const amd64 = await newK0s(host);
    // The arm64 binary: another file of the same version.
    const arm64 = new TextEncoder().encode(
      new TextDecoder().decode(amd64.bytes) + "# arm64\n",
    );
    const files: Record<string, Uint8Array> = {
      [`/${NEW}/k0s-${NEW}-amd64`]: amd64.bytes,
      [`/${NEW}/k0s-${NEW}-arm64`]: arm64,
    };
    const sums = `${sha256(amd64.bytes)}  k0s-${NEW}-amd64\n${sha256(arm64)}  k0s-${NEW}-arm64\n`;
    const requests: string[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      requests.push(path);
      if (path === `/${NEW}/sha256sums.txt`) return new Response(sums);
      const body = files[path];
      return body ? new Response(body as BodyInit) : new Response("not found", { status: 404 });
    });
    try {
      const base = `http://127.0.0.1:${server.addr.port}`;
      const ctx = upgradeContext(host, {
        env,
        options: { k0sBinary: amd64.path, k0sDownloadUrl: base },
      });
      assert.deepStrictEqual((await upgrade(ctx)).map((r) => r.status), ["done"]);
      const [plan] = await appliedPlans(host);
      const release = `${base}/${encodeURIComponent(NEW)}`;
      assert.deepStrictEqual(plan.spec.commands[0].k0supdate.platforms, {
        // As the k0s-binary phase downloads it (releases/pins.ts k0sUrl: the version URL-encoded).
        "linux-amd64": { url: `${release}/k0s-${NEW}-amd64`, sha256: sha256(amd64.bytes) },
        "linux-arm64": { url: `${release}/k0s-${NEW}-arm64`, sha256: sha256(arm64) },
      });
      assert.deepStrictEqual(plan.spec.commands[0].k0supdate.targets, {
        controllers: { discovery: { static: { nodes: ["node-1"] } } },
        workers: { discovery: { static: { nodes: ["node-2"] } } },
      });
      // Each node downloaded its own platform's binary.
      assert.deepStrictEqual(
        requests.filter((r) => !r.endsWith("sha256sums.txt")).sort(),
        Object.keys(files).sort(),
      );
      assert.deepStrictEqual(ctx.facts.k0sUpgrade?.nodes, [
        { name: "node-1", version: NEW },
        { name: "node-2", version: "v1.33.4+k0s" },
      ]);
    } finally {
      await server.shutdown();
    }
  },
);

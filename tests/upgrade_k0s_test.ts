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
import { PhaseError, runPhases } from "../src/install/run_phases.ts";
import { createFilesHandler } from "../src/registry/http/files.ts";
import { openK0sBinaryStore } from "../src/registry/storage/k0s_binaries.ts";
import { openMemoryStorage } from "../src/registry/storage/storage.ts";
import { formatK0sUpgrade, k0sUpgradePhase } from "../src/upgrade/phases/k0s_upgrade.ts";
import { FakeHost, fakeK0sImages } from "./helpers/fake_host.ts";
import { serveRegistry } from "./helpers/registry_server.ts";
import { storeIndex, storeManifest } from "./helpers/store_image.ts";
import { needsTools } from "./helpers/tools.ts";
import {
  installRunningK0s,
  upgradeContext,
  type UpgradeContextOptions,
  writeFakeK0s,
} from "./helpers/upgrade_host.ts";

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

async function upgrade(ctx: InstallContext) {
  return await runPhases([k0sUpgradePhase], ctx, "rerun");
}

/** The Plans the fake kubectl was given (JSON on stdin). */
async function appliedPlans(host: FakeHost): Promise<Record<string, unknown>[]> {
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
  const storageDir = "/var/lib/k0rdentd/registry";
  await Deno.mkdir(join(host.root, storageDir), { recursive: true });
  const store = openK0sBinaryStore(join(host.root, storageDir));
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

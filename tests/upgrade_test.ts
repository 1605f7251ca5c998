/**
 * One command from one bundle to the next: `main.ts install --airgap`
 * with k0s v1.32.8 and k0rdent 1.2.3, then `main.ts upgrade --airgap-bundle-path NEW
 * --k0s-binary NEWER` moves k0rdent (Release + Management, tests/fakes/kubectl_k0rdent.sh) and
 * k0s (binary swap on one node; an autopilot Plan on three, tests/fakes/kubectl_autopilot.sh,
 * whose nodes download the binary from the registry's files listener) in one run; a rerun
 * changes nothing. Subprocesses under a temp `K0RDENTD_ROOT`, the real registry
 * (tests/helpers/airgap_registry.ts) and a real files listener on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { createFilesHandler } from "../src/registry/http/files.ts";
import { openK0sBinaryStore } from "../src/registry/storage/k0s_binaries.ts";
import { makeBundle } from "./fixtures/make_bundle.ts";
import {
  ADVERTISE_IP,
  airgapArgs,
  airgapEnv,
  serveAirgapRegistry,
} from "./helpers/airgap_registry.ts";
import { FAKE_K0S_IMAGES, FakeHost, fakeK0sImages, FAKES_DIR } from "./helpers/fake_host.ts";
import { needsTools } from "./helpers/tools.ts";
import { writeFakeK0s } from "./helpers/upgrade_host.ts";

const OLD = "v1.32.8+k0s.0";
const NEW = "v1.33.4+k0s.0";
const PREFIX = "k0rdent-enterprise";
const FAST = ["--poll-interval", "20ms"];

/** The version baked into the host's installed fake k0s. */
async function installedK0s(host: FakeHost): Promise<string> {
  const text = await Deno.readTextFile(join(host.root, "usr/local/bin/k0s"));
  return /^baked_version="(.*)"$/m.exec(text)?.[1] || OLD;
}

/**
 * An installed air gap: registry with k0rdent 1.2.3 and the k0s images of both versions, the
 * files listener on its storage, k0s OLD + k0rdent 1.2.3 installed; a 1.3.0 bundle and the new
 * k0s beside it.
 */
async function installedAirgap(host: FakeHost, env: Record<string, string>) {
  const registry = await serveAirgapRegistry({
    charts: ["1.2.3"],
    kcmTemplates: true,
    images: [...FAKE_K0S_IMAGES, ...await fakeK0sImages(NEW)],
  });
  const files = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    createFilesHandler({ store: openK0sBinaryStore(registry.storage), prefix: PREFIX }),
  );
  const port = files.addr.port;
  const allEnv = {
    ...airgapEnv(registry),
    K0RDENTD_REGISTRY_FILES_PORT: String(port),
    // The nodes reach the advertised address (this host): its files port is the listener here.
    FAKE_NODE_CONNECT_TO: `${ADVERTISE_IP}:${port}:127.0.0.1:${port}`,
    ...env,
  };
  const common = ["--ignore-preflight-errors=root,ports", ...FAST, "--airgap"];
  const install = await host.run(
    ["install", ...common, "--k0s-binary", join(FAKES_DIR, "k0s"), ...airgapArgs(registry)],
    allEnv,
  );
  assert.equal(install.code, 0, install.stderr);
  const bundle = join(host.dir, "airgap-bundle-1.3.0.tar.gz");
  await makeBundle(bundle, { version: "1.3.0", kcmTemplates: true, images: 2 });
  const k0s = join(host.dir, `k0s-${NEW}-amd64`);
  const k0sBytes = await writeFakeK0s(k0s, NEW);
  await host.clearCalls();
  return {
    registry,
    port,
    k0sBytes,
    upgrade: () =>
      host.run([
        "upgrade",
        ...common,
        "--k0s-binary",
        k0s,
        ...airgapArgs(registry),
        "--airgap-bundle-path",
        bundle,
        "--verify=false",
        "--output",
        "json",
      ], allEnv),
    async [Symbol.asyncDispose]() {
      await files.shutdown();
      await registry[Symbol.asyncDispose]();
    },
  };
}

Deno.test(
  await needsTools(
    "upgrade, one node: one command moves k0rdent to the new bundle's Release and swaps k0s; a rerun changes nothing",
    "openssl",
    "curl",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using gap = await installedAirgap(host, {});
    assert.equal(await installedK0s(host), OLD);

    const result = await gap.upgrade();
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepStrictEqual(summary.to, { version: "1.3.0", release: "kcm-1-3-0" });
    assert.equal(summary.k0s.method, "swap");
    assert.deepStrictEqual(summary.k0s.nodes, [{ name: "node-1", version: NEW }]);
    assert.equal(await installedK0s(host), NEW);
    const mutating = await host.mutatingCalls();
    assert.ok(mutating.includes("k0s stop") && mutating.includes("k0s start"), mutating.join("\n"));
    assert.ok(!mutating.some((c) => c.startsWith("helm upgrade")), "kcm owns its release");
    // The version in use is marked in the registry storage for registry gc --keep-bundles.
    const inUse = JSON.parse(
      await Deno.readTextFile(join(gap.registry.storage, "bundle/in_use.json")),
    );
    assert.equal(inUse.k0rdentVersion, "1.3.0");

    await host.clearCalls();
    const again = await gap.upgrade();
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(JSON.parse(again.stdout).k0s.change, "same");
  },
);

Deno.test(
  await needsTools(
    "upgrade, three nodes: one command moves k0rdent and every node's k0s through an autopilot Plan on the files listener",
    "openssl",
    "curl",
    "jq",
  ),
  async () => {
    await using host = await FakeHost.create();
    const env = {
      FAKE_CLUSTER_NODES: "node-1:controller+worker node-2:controller+worker node-3:worker",
    };
    await using gap = await installedAirgap(host, env);

    const result = await gap.upgrade();
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepStrictEqual(summary.to, { version: "1.3.0", release: "kcm-1-3-0" });
    assert.equal(summary.k0s.method, "autopilot");
    assert.deepStrictEqual(summary.k0s.nodes, [
      { name: "node-1", version: NEW },
      { name: "node-2", version: NEW },
      { name: "node-3", version: "v1.33.4+k0s" },
    ]);
    // The Plan named the files listener at the advertised address, sha256 of the new binary.
    const stdin = await host.stdinLog();
    const plan = JSON.parse(stdin.slice(stdin.indexOf('{\n  "apiVersion": "autopilot')));
    const platform = plan.spec.commands[0].k0supdate.platforms["linux-amd64"];
    assert.equal(platform.url, `http://${ADVERTISE_IP}:${gap.port}/${PREFIX}/k0s-${NEW}-amd64`);
    assert.equal(platform.sha256, createHash("sha256").update(gap.k0sBytes).digest("hex"));
    assert.equal(await installedK0s(host), NEW);

    await host.clearCalls();
    const again = await gap.upgrade();
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

/**
 * End-to-end `upgrade` tests of the k0rdent side: `main.ts install --airgap` then
 * `main.ts upgrade --airgap-bundle-path NEW` as subprocesses under a temp `K0RDENTD_ROOT` with the
 * fake k0s/helm/kubectl (tests/fakes; kubectl_k0rdent.sh keeps the Management and Release
 * objects and refuses what kcm's webhook refuses), against the real registry
 * (tests/helpers/airgap_registry.ts) into whose storage the new bundle (tests/fixtures/
 * make_bundle.ts, with kcm's kcm-templates chart) is loaded.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { needsTools } from "./helpers/tools.ts";
import { airgapArgs, airgapEnv, serveAirgapRegistry } from "./helpers/airgap_registry.ts";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { makeKeyPair, signBlob } from "./helpers/cosign_keys.ts";

/** Asserts `part` occurs in `text`, showing the text when not. */
function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

const FAST = ["--poll-interval", "20ms"];
const K0S = ["--k0s-binary", join(FAKES_DIR, "k0s")];
const TEMPLATES = "k0rdent-enterprise/charts/kcm-templates";

/** A host with k0rdent 1.2.3 installed from the registry, and a 1.3.0 bundle beside it. */
async function installed(
  host: FakeHost,
  registry: Awaited<ReturnType<typeof serveAirgapRegistry>>,
) {
  const install = [
    "install",
    "--ignore-preflight-errors=root,ports",
    ...FAST,
    "--airgap",
    ...K0S,
    ...airgapArgs(registry),
  ];
  const result = await host.run(install, airgapEnv(registry));
  assert.equal(result.code, 0, result.stderr);
  const bundle = join(host.dir, "airgap-bundle-1.3.0.tar.gz");
  await makeBundle(bundle, { version: "1.3.0", kcmTemplates: true, images: 2 });
  await host.clearCalls();
  return {
    bundle,
    args: (...extra: string[]) => [
      "upgrade",
      ...FAST,
      "--airgap",
      ...K0S,
      ...airgapArgs(registry),
      "--airgap-bundle-path",
      bundle,
      ...extra,
    ],
    env: airgapEnv(registry),
  };
}

async function state(host: FakeHost, name: string): Promise<string> {
  return (await Deno.readTextFile(join(host.state, name))).trim();
}

Deno.test(
  await needsTools(
    "upgrade --airgap-bundle-path: one command moves k0rdent to the bundle's Release; a rerun changes nothing",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"], kcmTemplates: true });
    const { args, env } = await installed(host, registry);
    assert.equal(await state(host, "mgmt-release"), "kcm-1-2-3");

    const result = await host.run(args("--verify=false", "--output", "json"), env);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepStrictEqual(summary.from, { version: "1.2.3", release: "kcm-1-2-3" });
    assert.deepStrictEqual(summary.to, { version: "1.3.0", release: "kcm-1-3-0" });

    // The Release came from the bundle's kcm-templates chart, now in the registry's storage.
    assert.ok(
      registry.requests.some((r) =>
        r.method === "GET" && r.path === `/v2/${TEMPLATES}/manifests/1.3.0`
      ),
      "the kcm-templates chart of the new version was read from the registry",
    );
    const mutating = await host.mutatingCalls();
    // The Release, the registry Secrets (the CA, again with the values), the values, the move.
    assert.deepStrictEqual(mutating.map((c) => c.replace(/\/\S+\/patch\.json/, "FILE")), [
      "kubectl apply --server-side -f -",
      "kubectl apply --server-side -f -",
      "kubectl patch management kcm --type=merge --patch-file FILE",
      "kubectl patch management kcm --type=merge --patch-file FILE",
    ]);
    const stdin = await host.stdinLog();
    includes(stdin, "kind: Release\nmetadata:\n  name: kcm-1-3-0");
    includes(stdin, '{"spec":{"core":{"kcm":{"config":{');
    includes(stdin, '{"spec":{"release":"kcm-1-3-0"}}');
    assert.equal(await state(host, "mgmt-release"), "kcm-1-3-0");
    assert.equal(await state(host, "mgmt-status-release"), "kcm-1-3-0");
    const recorded = JSON.parse(
      await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/install-state.json")),
    );
    assert.equal(recorded.k0rdentVersion, "1.3.0");

    await host.clearCalls();
    const again = await host.run(args("--verify=false"), env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    includes(again.stdout, "k0rdent 1.3.0 (Release kcm-1-3-0) already runs: nothing to do");

    // An install rerun now only hands kcm values (none changed): no helm upgrade, no patch.
    await host.clearCalls();
    const install = await host.run(
      [
        "install",
        "--ignore-preflight-errors=root,ports",
        ...FAST,
        "--airgap",
        ...K0S,
        ...airgapArgs(registry),
      ],
      env,
    );
    assert.equal(install.code, 0, install.stderr);
    assert.ok(!(await host.calls()).some((c) => c.startsWith("helm upgrade")));
  },
);

Deno.test(
  await needsTools(
    "upgrade: a failure mid-upgrade is reported with its phase and a rerun finishes it",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"], kcmTemplates: true });
    const { args, env } = await installed(host, registry);

    // kcm takes longer than the limit to move to the new Release: the wait fails after the move.
    const slow = await host.run(
      args("--verify=false", "--k0rdent-timeout", "3s"),
      { ...env, FAKE_MGMT_UPGRADE_AFTER: "1000", FAKE_RELEASE_READY_AFTER: "1" },
    );
    assert.equal(slow.code, 1, slow.stderr);
    includes(slow.stderr, 'Phase "wait-upgrade" (Wait for k0rdent to run the new Release) failed');
    includes(slow.stderr, 'Management "kcm" still runs kcm-1-2-3');
    includes(slow.stderr, 'run "k0rdentd upgrade" again with the same flags');
    assert.doesNotMatch(slow.stderr, /\n\s+at /);
    assert.equal(await state(host, "mgmt-release"), "kcm-1-3-0");

    // status: kcm still runs 1.2.3 while the registry holds 1.3.0.
    const statusEnv = { ...env, K0RDENTD_REGISTRY_ADDRESS: registry.address };
    const stuck = { ...statusEnv, FAKE_MGMT_UPGRADE_AFTER: "1000" };
    const status = await host.run(["status", "--output", "json"], stuck);
    const versions = JSON.parse(status.stdout).versions;
    assert.deepStrictEqual(versions.k0rdent, {
      installed: "1.2.3",
      release: "kcm-1-2-3",
      available: "1.3.0",
    });
    assert.equal(versions.k0s.running, "v1.32.8+k0s.0");
    includes(
      (await host.run(["status"], stuck)).stdout,
      "Versions: k0rdent 1.2.3 (Release kcm-1-2-3), 1.3.0 available in the registry (k0rdentd upgrade)",
    );

    await host.clearCalls();
    const resumed = await host.run(args("--verify=false"), env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), [], "nothing is applied twice");
    assert.equal(await state(host, "mgmt-status-release"), "kcm-1-3-0");
    const after = JSON.parse((await host.run(["status", "--output", "json"], statusEnv)).stdout);
    assert.equal(after.healthy, true, after.problems.join("; "));
    assert.equal(after.versions.k0rdent.installed, "1.3.0");

    // A failed patch of the Management (the API refuses it) stops before spec.release moves.
    await using host2 = await FakeHost.create();
    await using registry2 = await serveAirgapRegistry({ charts: ["1.2.3"], kcmTemplates: true });
    const second = await installed(host2, registry2);
    await host2.inject("kubectl-patch-management");
    const failed = await host2.run(second.args("--verify=false"), second.env);
    assert.equal(failed.code, 1, failed.stderr);
    includes(failed.stderr, 'Phase "k0rdent-helm"');
    assert.equal(await state(host2, "mgmt-release"), "kcm-1-2-3");
    await host2.inject(null);
    await host2.clearCalls();
    const finished = await host2.run(second.args("--verify=false"), second.env);
    assert.equal(finished.code, 0, finished.stderr);
    assert.equal(await state(host2, "mgmt-status-release"), "kcm-1-3-0");
    assert.equal(
      (await host2.stdinLog()).split("kind: Release\n").length - 1,
      1,
      "the Release applied by the failed run is not applied again",
    );
  },
);

Deno.test(
  await needsTools(
    "upgrade --dry-run prints the plan, loads nothing and changes nothing",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"], kcmTemplates: true });
    const { args, env, bundle } = await installed(host, registry);
    const before = await host.files();
    const dry = await host.run(args("--verify=false", "--dry-run"), env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.deepStrictEqual(await host.files(), before);
    includes(dry.stdout, `Using k0rdent 1.3.0 from bundle "${bundle}"`);
    includes(dry.stderr, `Would load bundle "${bundle}" into "${registry.storage}"`);
    includes(dry.stderr, "Would apply the Release kcm-1-3-0 (from kcm-templates 1.3.0)");
    assert.match(dry.stdout, /Would run \S*k0s kubectl patch management kcm --type=merge/);
    includes(dry.stderr, 'Would merge-patch Management "kcm" spec.release to kcm-1-3-0');
    assert.ok(
      registry.requests.filter((r) => r.path.includes("/charts/"))
        .every((r) => !r.path.endsWith("/1.3.0") || r.status === 404),
      "nothing of 1.3.0 was loaded",
    );
    await assert.rejects(Deno.stat(join(registry.storage, "bundle", "loads")));
  },
);

Deno.test(
  await needsTools(
    "upgrade refuses an older bundle, another prefix and a wrong signature, changing nothing",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"], kcmTemplates: true });
    const { args, env, bundle } = await installed(host, registry);

    const old = join(host.dir, "airgap-bundle-1.1.0.tar.gz");
    await makeBundle(old, { version: "1.1.0", kcmTemplates: true, images: 1 });
    const older = await host.run(
      [
        "upgrade",
        ...FAST,
        "--airgap",
        ...airgapArgs(registry),
        "--airgap-bundle-path",
        old,
        "--verify=false",
      ],
      env,
    );
    assert.equal(older.code, 1, older.stderr);
    includes(
      older.stderr,
      "Refusing to downgrade k0rdent from 1.2.3 to 1.1.0: the bundle or --k0rdent-version is older than what runs (pass --allow-downgrade to force it)",
    );

    const prefix = await host.run(args("--verify=false", "--registry-prefix", "other"), env);
    assert.equal(prefix.code, 1, prefix.stderr);
    includes(
      prefix.stderr,
      'Refusing to upgrade from repository prefix "other": k0rdent was installed from "k0rdent-enterprise"',
    );

    // Signed with one key, checked with another.
    await makeKeyPair(host.dir, "a.pem", "a.pub");
    await makeKeyPair(host.dir, "b.pem", "b.pub");
    await signBlob(host.dir, bundle.slice(host.dir.length + 1), "a.pem");
    const forged = await host.run(args("--cosign-key", join(host.dir, "b.pub")), env);
    assert.equal(forged.code, 1, forged.stderr);
    includes(forged.stderr, `Signature check of bundle "${bundle}" failed`);
    assert.doesNotMatch(forged.stderr, /\n\s+at /);

    for (const r of [older, prefix, forged]) assert.equal(r.stderr.includes("\n    at "), false);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.equal(await state(host, "mgmt-release"), "kcm-1-2-3");
    assert.ok(!registry.requests.some((r) => r.path === `/v2/${TEMPLATES}/manifests/1.3.0`));

    // The right key passes: the same bundle upgrades.
    const signed = await host.run(args("--cosign-key", join(host.dir, "a.pub")), env);
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(await state(host, "mgmt-status-release"), "kcm-1-3-0");
  },
);

Deno.test("upgrade on a host without k0s, or online without a version, says what to do", async () => {
  await using host = await FakeHost.create();
  const bare = await host.run(["upgrade", "--k0rdent-version", "1.3.0"]);
  assert.equal(bare.code, 1, bare.stderr);
  includes(bare.stderr, "k0s is not running on this host");
  assert.doesNotMatch(bare.stderr, /\n\s+at /);
  const unnamed = await host.run(["upgrade"]);
  assert.equal(unnamed.code, 2, unnamed.stderr);
  includes(unnamed.stderr, "Name the k0rdent version to upgrade to: --k0rdent-version (online)");
  assert.deepStrictEqual(await host.mutatingCalls(), []);
});

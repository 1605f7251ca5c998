/**
 * `uninstall` and `status` end to end, with the fake k0s/helm/kubectl of
 * tests/fakes and a temp `K0RDENTD_ROOT`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { needsTools } from "./helpers/tools.ts";
import {
  ADVERTISE_IP,
  type AirgapRegistry,
  serveAirgapRegistry,
} from "./helpers/airgap_registry.ts";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

const INSTALL = [
  "install",
  "--ignore-preflight-errors=root,ports",
  "--poll-interval",
  "20ms",
  "--airgap",
  "--k0s-binary",
  join(FAKES_DIR, "k0s"),
];

/** The real registry with two charts and the fake k0s's 10 system images (10 repositories). */
function registryWithContent(): Promise<AirgapRegistry> {
  return serveAirgapRegistry({ charts: ["1.1.0", "1.2.0"] });
}

async function installed(host: FakeHost, registry: AirgapRegistry): Promise<void> {
  const config = join(host.root, "etc/k0rdentd/k0rdentd.yaml");
  await Deno.mkdir(join(host.root, "etc/k0rdentd"), { recursive: true });
  await Deno.writeTextFile(
    config,
    `airgap:\n  registry:\n    address: "${registry.address}"\n    advertiseAddress: "${ADVERTISE_IP}"\n    caFile: "${registry.caFile}"\n`,
  );
  await Deno.mkdir(join(host.root, "var/lib/k0rdentd/registry/docker"), { recursive: true });
  const result = await host.run(INSTALL);
  assert.equal(result.code, 0, result.stderr);
  await host.clearCalls();
}

Deno.test(
  await needsTools(
    "status: healthy after install (text and JSON, registry images counted); exit 1 when k0s stops",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    const text = await host.run(["status"]);
    assert.equal(text.code, 0, text.stderr);
    includes(text.stdout, "k0s:      v1.32.8+k0s.0, running (controller)");
    includes(text.stdout, "components 3/3");
    includes(text.stdout, `Registry: ${registry.address} reachable, 12 images in 11 repositories`);
    includes(text.stdout, "Healthy");
    const json = JSON.parse((await host.run(["status", "--output", "json"])).stdout);
    assert.equal(json.healthy, true);
    assert.deepStrictEqual(json.nodes, [{ name: "node-1", ready: true }]);
    assert.deepStrictEqual(json.registry, {
      address: registry.address,
      reachable: true,
      repositories: 11,
      images: 12,
    });
    assert.deepStrictEqual(await host.mutatingCalls(), []);

    await Deno.remove(join(host.state, "k0s-running"));
    const down = await host.run(["status", "--output", "json"]);
    assert.equal(down.code, 1);
    assert.equal(JSON.parse(down.stdout).healthy, false);
    assert.deepStrictEqual(JSON.parse(down.stdout).problems, ["k0s is not running"]);
    assert.doesNotMatch(down.stderr, /Not healthy/);
  },
);

Deno.test(await needsTools("status: exit 1 on a bare host", "openssl", "curl"), async () => {
  await using host = await FakeHost.create();
  const result = await host.run(["status"]);
  assert.equal(result.code, 1);
  includes(result.stdout, "k0s:      not installed");
  // Said once, in the summary on stdout; the exit code tells scripts.
  const said = (result.stdout + result.stderr).match(/Not healthy: k0s is not installed/g);
  assert.equal(said?.length, 1, result.stdout + result.stderr);
  includes(result.stdout, "Not healthy: k0s is not installed");
});

Deno.test(
  await needsTools(
    "expose-ui without k0rdent warns that there is no UI Service and exits 1",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const result = await host.run(["expose-ui"]);
    assert.equal(result.code, 1);
    includes(result.stderr, "The k0rdent chart runs no UI Service: nothing to expose");
    includes(result.stderr, "The k0rdent UI is not exposed");
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "uninstall --dry-run changes nothing; uninstall needs confirmation",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    const before = await host.files();

    const dry = await host.run(["uninstall", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    includes(dry.stdout, "Dry run:");
    includes(dry.stdout, "run /usr/local/bin/k0s stop");
    includes(dry.stdout, "remove /etc/k0s/k0s.yaml");
    assert.deepStrictEqual(await host.files(), before);
    assert.deepStrictEqual(await host.mutatingCalls(), []);

    const declined = await host.run(["uninstall"], {}, "n\n");
    assert.equal(declined.code, 1);
    includes(declined.stderr, "Uninstall cancelled");
    assert.deepStrictEqual(await host.files(), before);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "uninstall: stops and resets k0s, removes our files, keeps the user's config and registry data",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    const result = await host.run(["uninstall"], {}, "y\n");
    assert.equal(result.code, 0, result.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s reset"]);
    const left = [...(await host.files()).keys()].sort();
    assert.deepStrictEqual(left, ["etc/k0rdentd/k0rdentd.yaml"]);
    await Deno.stat(join(host.root, "var/lib/k0rdentd/registry/docker"));
    includes(result.stdout, "Kept: /etc/k0rdentd, /var/lib/k0rdentd/registry");

    // Nothing left to do: a second uninstall changes nothing and succeeds.
    await host.clearCalls();
    const again = await host.run(["uninstall", "--force"]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    includes(again.stdout, "Nothing to uninstall");

    // And the host takes a fresh install again.
    const reinstall = await host.run(INSTALL);
    assert.equal(reinstall.code, 0, reinstall.stderr);
    includes((await host.mutatingCalls()).join("\n"), "k0s install controller");
  },
);

Deno.test(
  await needsTools(
    "uninstall --purge refuses a registry.storage of / before changing anything",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    const before = await host.files();
    const result = await host.run(["uninstall", "--purge", "--force"], {
      K0RDENTD_REGISTRY_STORAGE: "/",
    });
    assert.equal(result.code, 1);
    includes(result.stderr, 'Refusing to purge registry.storage "/"');
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.deepStrictEqual(await host.files(), before);
  },
);

Deno.test(
  await needsTools(
    "uninstall --purge asks again, then deletes the registry storage",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    const declined = await host.run(["uninstall", "--purge"], {}, "y\nn\n");
    assert.equal(declined.code, 1);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    const result = await host.run(["uninstall", "--purge"], {}, "y\ny\n");
    assert.equal(result.code, 0, result.stderr);
    await assert.rejects(Deno.stat(join(host.root, "var/lib/k0rdentd/registry")));
    await Deno.stat(join(host.root, "etc/k0rdentd/k0rdentd.yaml"));
  },
);

Deno.test(
  await needsTools(
    "uninstall stops a k0s that died and that systemd restarts before k0s reset",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await registryWithContent();
    await installed(host, registry);
    // k0s died; its unit waits for the restart (Restart=always, RestartSec=10), so `k0s status`
    // has no answer and `k0s reset` would run while systemd brings k0s back.
    await Deno.remove(join(host.state, "k0s-running"));
    await Deno.writeTextFile(
      join(host.state, "units"),
      "k0scontroller.service enabled activating\n",
    );
    const result = await host.run(["uninstall", "--force"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s reset"]);
    const journal = await Deno.readTextFile(join(host.state, "k0s-journal")).catch(() => "");
    assert.doesNotMatch(journal, /restarted/);
    await assert.rejects(Deno.stat(join(host.state, "k0s-running")), "k0s runs after uninstall");
  },
);

import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultConfig } from "../config/defaults.ts";
import { UserError } from "../errors.ts";
import { clusterEndpoint, localRegistryAliases, registryEndpoint } from "./endpoint.ts";
import { findRegistryCa, resolveRegistry } from "./resolve.ts";

const node = () => "10.0.0.5";

Deno.test("resolveRegistry() advertises this host's IP for a loopback address and keeps the local names as aliases", async () => {
  const { config, notes } = await resolveRegistry(defaultConfig(), { nodeAddress: node });
  assert.equal(config.airgap.registry.advertiseAddress, "10.0.0.5:5000");
  assert.equal(clusterEndpoint(config).address, "10.0.0.5:5000");
  assert.equal(registryEndpoint(config).address, "localhost:5000");
  assert.deepStrictEqual(localRegistryAliases(config), ["localhost:5000", "127.0.0.1:5000"]);
  assert.match(notes.join("\n"), /10\.0\.0\.5:5000 \(localhost:5000 is loopback/);
});

Deno.test("resolveRegistry() keeps a routable address and completes a port-less advertise address", async () => {
  const routable = defaultConfig();
  routable.airgap.registry.address = "registry.lan:5443";
  const kept = await resolveRegistry(routable, { nodeAddress: () => assert.fail("not asked") });
  assert.equal(kept.config.airgap.registry.advertiseAddress, "registry.lan:5443");
  assert.deepStrictEqual(localRegistryAliases(kept.config), []);

  const given = defaultConfig();
  given.airgap.registry.advertiseAddress = "fd00::5";
  const v6 = await resolveRegistry(given, { nodeAddress: () => assert.fail("not asked") });
  assert.equal(v6.config.airgap.registry.advertiseAddress, "[fd00::5]:5000");
  given.airgap.registry.advertiseAddress = "10.1.2.3:6000";
  const port = await resolveRegistry(given);
  assert.equal(port.config.airgap.registry.advertiseAddress, "10.1.2.3:6000");
});

Deno.test("resolveRegistry() refuses a loopback advertise address and a host without a routable IPv4", async () => {
  const loopback = defaultConfig();
  loopback.airgap.registry.advertiseAddress = "127.0.0.1";
  await assert.rejects(
    resolveRegistry(loopback),
    (err) => err instanceof UserError && /cannot reach a loopback address/.test(err.message),
  );
  await assert.rejects(
    resolveRegistry(defaultConfig(), { nodeAddress: () => undefined }),
    (err) =>
      err instanceof UserError &&
      /"localhost:5000" is loopback and this host has no routable IPv4 address; pass --registry-advertise-address IP/
        .test(err.message),
  );
});

Deno.test("findRegistryCa() finds the --tls auto CA of registry.storage; plain HTTP and explicit files win", async () => {
  await using dir = await tempDir();
  const config = defaultConfig();
  config.registry.storage = dir.path;
  assert.equal(await findRegistryCa(config), "", "no CA yet: the system roots");
  await Deno.mkdir(join(dir.path, "tls"));
  await Deno.writeTextFile(join(dir.path, "tls", "ca.crt"), "pem");
  assert.equal(await findRegistryCa(config), join(dir.path, "tls", "ca.crt"));
  const { config: resolved, notes } = await resolveRegistry(config, { nodeAddress: node });
  assert.equal(resolved.airgap.registry.caFile, join(dir.path, "tls", "ca.crt"));
  assert.match(notes.join("\n"), /registry CA: .*tls\/ca\.crt/);
  config.airgap.registry.caFile = "/etc/ssl/mine.crt";
  assert.equal(await findRegistryCa(config), "/etc/ssl/mine.crt");
  config.airgap.registry.insecure = true;
  assert.equal(await findRegistryCa(config), "");
  const plain = await resolveRegistry(config, { nodeAddress: node });
  assert.match(plain.warnings.join("\n"), /does not support insecure registries/);
});

async function tempDir() {
  const path = await Deno.makeTempDir();
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("resolveRegistry() with several addresses resolves each in order (a loopback one to this host)", async () => {
  const config = defaultConfig();
  config.airgap.registry.address = "localhost:5000,10.0.0.6:5000,127.0.0.1:5001";
  const { config: resolved } = await resolveRegistry(config, { nodeAddress: node });
  assert.equal(
    resolved.airgap.registry.advertiseAddress,
    "10.0.0.5:5000,10.0.0.6:5000,10.0.0.5:5001",
  );
  assert.deepStrictEqual(clusterEndpoint(resolved), {
    address: "10.0.0.5:5000",
    fallbacks: ["10.0.0.6:5000", "10.0.0.5:5001"],
    prefix: "k0rdent-enterprise",
    insecure: false,
  });
  assert.equal(registryEndpoint(resolved).address, "localhost:5000");
  assert.deepStrictEqual(localRegistryAliases(resolved), ["localhost:5000", "127.0.0.1:5000"]);

  // An advertise list is taken as given; a loopback entry in it is refused.
  config.airgap.registry.advertiseAddress = "10.0.0.9:5000,10.0.0.8:5000";
  const given = await resolveRegistry(config, { nodeAddress: node });
  assert.equal(given.config.airgap.registry.advertiseAddress, "10.0.0.9:5000,10.0.0.8:5000");
  config.airgap.registry.advertiseAddress = "10.0.0.9:5000,localhost:5000";
  await assert.rejects(
    resolveRegistry(config, { nodeAddress: node }),
    (err) => err instanceof UserError && /"localhost:5000".*loopback/.test(err.message),
  );
});

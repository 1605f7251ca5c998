/** Pure parts of joining: node address choice, registry address for other nodes, token expiry, join files. */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { defaultConfig } from "../src/config/defaults.ts";
import { UsageError } from "../src/errors.ts";
import { renderJoinConfig } from "../src/join/join_config.ts";
import {
  type InterfaceAddress,
  pickNodeAddress,
  registryAliases,
  withoutOwnAddresses,
} from "../src/join/node_address.ts";
import { checkExpiry } from "../src/join/token.ts";

const v4 = (name: string, address: string): InterfaceAddress => ({
  name,
  family: "IPv4",
  address,
});

Deno.test("pickNodeAddress() skips loopback, link-local, CNI and container interfaces", () => {
  const interfaces = [
    v4("lo", "127.0.0.1"),
    v4("cni0", "10.244.0.1"),
    v4("flannel.1", "10.244.0.0"),
    v4("cali12ab", "192.168.7.1"),
    v4("vxlan.calico", "192.168.7.2"),
    v4("docker0", "172.17.0.1"),
    v4("kube-bridge", "10.244.0.1"),
    v4("veth1234", "10.1.1.1"),
    v4("ens3", "169.254.10.10"),
    { name: "ens3", family: "IPv6", address: "fd00::5" } as InterfaceAddress,
    v4("ens3", "10.0.0.5"),
    v4("ens4", "10.0.1.5"),
  ];
  assert.equal(pickNodeAddress(interfaces), "10.0.0.5");
  assert.equal(pickNodeAddress(interfaces.slice(0, 9)), undefined);
});

Deno.test("withoutOwnAddresses() drops this host's interface addresses at the replica's port only", () => {
  const interfaces: InterfaceAddress[] = [
    v4("lo", "127.0.0.1"),
    v4("eth0", "10.0.0.5"),
    { name: "eth0", family: "IPv6", address: "fd00::5" },
  ];
  const list = [
    "10.0.0.4:5000",
    "10.0.0.5:5000",
    "10.0.0.5:5001",
    "[fd00::5]:5000",
    "127.0.0.1:5000",
  ];
  // Loopback stays: the replica phase refuses it with its own message.
  assert.deepEqual(withoutOwnAddresses(list, 5000, interfaces), [
    "10.0.0.4:5000",
    "10.0.0.5:5001",
    "127.0.0.1:5000",
  ]);
  assert.deepEqual(withoutOwnAddresses(list, 5001, interfaces), [
    "10.0.0.4:5000",
    "10.0.0.5:5000",
    "[fd00::5]:5000",
    "127.0.0.1:5000",
  ]);
});

Deno.test("registryAliases() names the local registry names another node must map to the registry", () => {
  assert.deepEqual(registryAliases("10.0.0.5:5000"), ["localhost:5000", "127.0.0.1:5000"]);
  assert.deepEqual(registryAliases("registry.lan:5443"), ["localhost:5443", "127.0.0.1:5443"]);
  assert.deepEqual(registryAliases("10.0.0.5:5000", "localhost:5000"), ["localhost:5000"]);
  assert.deepEqual(registryAliases("10.0.0.5:5000", "10.0.0.5:5000"), []);
  for (const local of ["localhost:5000", "127.0.0.1:5000", "[::1]:5000", "0.0.0.0:5000"]) {
    assert.deepEqual(registryAliases(local), [], local);
    assert.deepEqual(registryAliases(local, "registry.lan:5000"), [], local);
  }
  assert.throws(() => registryAliases("fd00::1"), /expected HOST or HOST:PORT/);
});

Deno.test("checkExpiry() accepts Go durations and rejects the rest", () => {
  for (const ok of ["24h", "90m", "1h30m", "3600s", "1.5h"]) assert.equal(checkExpiry(ok), ok);
  for (const bad of ["", "24", "1d", "tomorrow", "0h", "-1h", "24 h"]) {
    assert.throws(() => checkExpiry(bad), UsageError);
  }
});

Deno.test("renderJoinConfig() writes a config file for the new node", () => {
  const k0s = {
    ...defaultConfig().k0s,
    api: { address: "10.0.0.5", port: 6443 },
    network: { provider: "calico" as const, podCIDR: "10.10.0.0/16", serviceCIDR: "10.96.0.0/12" },
  };
  const common = {
    k0sVersion: "v1.32.8+k0s.0",
    k0s,
    server: "https://10.0.0.5:6443",
    expiry: "24h",
    created: "2026-01-01T00:00:00.000Z",
    registry: { address: "10.0.0.5:5000", prefix: "k0rdent-enterprise", insecure: false, ca: true },
  };
  const worker = renderJoinConfig({ ...common, role: "worker", token: "wtok" });
  assert.match(worker, /^# k0rdentd join configuration for a new worker node \(secret/);
  assert.match(worker, /copy registry-ca\.crt to \/etc\/k0rdentd\/registry-ca\.crt first/);
  assert.deepEqual(parse(worker), {
    k0s: { version: "v1.32.8+k0s.0" },
    join: { mode: "worker", server: "https://10.0.0.5:6443", token: "wtok" },
    airgap: {
      registry: {
        address: "10.0.0.5:5000",
        prefix: "k0rdent-enterprise",
        insecure: false,
        caFile: "/etc/k0rdentd/registry-ca.crt",
      },
    },
  });
  const controller = parse(renderJoinConfig({ ...common, role: "controller", token: "ctok" }));
  assert.equal(controller.join.mode, "controller");
  assert.equal(controller.k0s.network.provider, "calico");
  assert.equal(controller.k0s.network.podCIDR, "10.10.0.0/16");
  assert.equal(controller.k0s.api.address, "", "a joining controller detects its own address");
  const online = parse(
    renderJoinConfig({ ...common, registry: undefined, role: "worker", token: "t" }),
  );
  assert.equal(online.airgap, undefined);
});

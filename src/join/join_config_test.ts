import assert from "node:assert/strict";
import { parse } from "yaml";
import { defaultConfig } from "../config/defaults.ts";
import { renderJoinConfig } from "./join_config.ts";

const input = (address: string) => ({
  role: "worker" as const,
  k0sVersion: "v1.32.8+k0s.0",
  k0s: defaultConfig().k0s,
  server: "https://10.0.0.5:6443",
  token: "tok",
  expiry: "24h",
  registry: { address, prefix: "k0rdent-enterprise", insecure: false, ca: true },
  created: "2026-11-30T00:00:00.000Z",
});

Deno.test("renderJoinConfig() carries every registry address, in order, as a list", () => {
  const text = renderJoinConfig(input("10.0.0.5:5000,10.0.0.6:5000"));
  const doc = parse(text);
  assert.deepEqual(doc.airgap.registry.address, ["10.0.0.5:5000", "10.0.0.6:5000"]);
  assert.match(text, /^# Registry 10\.0\.0\.5:5000, 10\.0\.0\.6:5000: HTTPS; copy/m);
  assert.equal(
    parse(renderJoinConfig(input("10.0.0.5:5000"))).airgap.registry.address,
    "10.0.0.5:5000",
  );
});

Deno.test("renderJoinConfig(): a controller's file says how to add a registry replica (with the CA key for TLS); a worker's does not", () => {
  const controller = renderJoinConfig({ ...input("10.0.0.5:5000"), role: "controller" });
  assert.match(
    controller,
    /^# To run a registry replica here too: install --join --registry-replica \(first copy <registry\.storage>\/tls\/ca\.key of this controller to \/etc\/k0rdentd\/registry-ca\.key, mode 0600\)\.$/m,
  );
  assert.equal(parse(controller).join.registryReplica, undefined, "off unless asked for");
  const plain = input("10.0.0.5:5000");
  const http = renderJoinConfig({
    ...plain,
    role: "controller",
    registry: { ...plain.registry, insecure: true, ca: false },
  });
  assert.match(
    http,
    /^# To run a registry replica here too: install --join --registry-replica\.$/m,
  );
  assert.doesNotMatch(renderJoinConfig(input("10.0.0.5:5000")), /registry replica/);
});

import assert from "node:assert/strict";
import { defaultConfig } from "../config/defaults.ts";
import { freePort } from "../../tests/helpers/free_port.ts";
import { preferReachableRegistry } from "./reachable_registry.ts";

function serveV2() {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/v2/"
        ? new Response("{}")
        : new Response("no", { status: 404 }),
  );
}

function replicas(address: string) {
  const config = defaultConfig();
  config.airgap.registry.insecure = true;
  config.airgap.registry.address = address;
  config.airgap.registry.advertiseAddress = address.replaceAll("127.0.0.1", "10.0.0.5");
  return config;
}

Deno.test("preferReachableRegistry() puts the first registry that answers first in both lists", async () => {
  const up = serveV2();
  try {
    const down = `127.0.0.1:${freePort()}`;
    const live = `127.0.0.1:${up.addr.port}`;
    const other = `127.0.0.1:${freePort()}`;
    const config = replicas(`${down},${other},${live}`);
    const note = await preferReachableRegistry(config);
    assert.equal(config.airgap.registry.address, `${live},${down},${other}`);
    assert.equal(
      config.airgap.registry.advertiseAddress,
      [live, down, other].map((a) => a.replace("127.0.0.1", "10.0.0.5")).join(","),
    );
    assert.match(note ?? "", /does not answer: Helm and the k0rdent values use 10\.0\.0\.5:/);

    // The first answers: nothing moves.
    const kept = replicas(`${live},${down}`);
    assert.equal(await preferReachableRegistry(kept), undefined);
    assert.equal(kept.airgap.registry.address, `${live},${down}`);
    // None answers, or a single address: nothing moves either.
    const none = replicas(`${down},${other}`);
    assert.equal(await preferReachableRegistry(none), undefined);
    assert.equal(none.airgap.registry.address, `${down},${other}`);
    const single = replicas(down);
    assert.equal(await preferReachableRegistry(single), undefined);
  } finally {
    await up.shutdown();
  }
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeRunner } from "../process/fake_runner.ts";
import { formatPlan, HostMutator } from "./mutator.ts";

async function withRoot(fn: (root: string, map: (p: string) => string) => Promise<void>) {
  const root = await Deno.makeTempDir();
  try {
    await fn(root, (p) => join(root, p));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("HostMutator under dry-run plans writes, removals and commands and does none of them", async () => {
  await withRoot(async (root, map) => {
    const runner = new FakeRunner();
    const host = new HostMutator(runner, true, map);
    assert.equal(await host.writeFile("/etc/x/a.yaml", "a: 1\n", { mode: 0o600 }), "created");
    await host.run(["k0s", "start"]);
    assert.equal(await host.remove("/etc/absent"), false);
    assert.equal(await host.wet("do something", () => Promise.resolve(1)), undefined);
    assert.deepStrictEqual(host.changes, [
      "write /etc/x/a.yaml (5 bytes, mode 0600)",
      "run k0s start",
      "do something",
    ]);
    assert.deepStrictEqual([...Deno.readDirSync(root)], []);
    assert.deepStrictEqual(runner.calls, []);
  });
});

Deno.test("HostMutator writes atomically with the mode, then reports unchanged; a mode change updates", async () => {
  await withRoot(async (root, map) => {
    const host = new HostMutator(new FakeRunner(), false, map);
    assert.equal(await host.writeFile("/etc/x/a.yaml", "a: 1\n", { mode: 0o600 }), "created");
    assert.equal((await Deno.stat(join(root, "etc/x/a.yaml"))).mode! & 0o777, 0o600);
    assert.equal(await host.writeFile("/etc/x/a.yaml", "a: 1\n", { mode: 0o600 }), "unchanged");
    assert.ok(await host.matches("/etc/x/a.yaml", "a: 1\n", 0o600));
    assert.equal(await host.matches("/etc/x/a.yaml", "a: 2\n", 0o600), false);
    assert.equal(await host.matches("/etc/x/a.yaml", "a: 1\n", 0o644), false);
    assert.equal(await host.writeFile("/etc/x/a.yaml", "a: 1\n", { mode: 0o644 }), "updated");
    assert.equal(await host.remove("/etc/x"), true);
    await assert.rejects(Deno.stat(join(root, "etc/x")));
  });
});

Deno.test("HostMutator.installFile installs what the producer wrote under the root; dry-run plans it", async () => {
  await withRoot(async (root, map) => {
    const dry = new HostMutator(new FakeRunner(), true, map);
    await dry.installFile("/usr/local/bin/k0s", "install k0s", () => {
      throw new Error("not produced under dry-run");
    });
    assert.deepStrictEqual(dry.changes, ["install k0s"]);
    assert.deepStrictEqual([...Deno.readDirSync(root)], []);
    const host = new HostMutator(new FakeRunner(), false, map);
    await host.installFile("/usr/local/bin/k0s", "install k0s", async (temp) => {
      assert.ok(temp.startsWith(join(root, "usr/local/bin/")), temp);
      await Deno.writeTextFile(temp, "binary", { mode: 0o755 });
    });
    assert.equal(await Deno.readTextFile(join(root, "usr/local/bin/k0s")), "binary");
    assert.deepStrictEqual([...Deno.readDirSync(join(root, "usr/local/bin"))].map((e) => e.name), [
      "k0s",
    ]);
  });
});

Deno.test("HostMutator.run throws a ToolError carrying the stderr tail", async () => {
  const runner = new FakeRunner().on("k0s start", { code: 1, stderrTail: "Error: boom" });
  const host = new HostMutator(runner, false);
  await assert.rejects(host.run(["k0s", "start"]), /exit code 1: Error: boom/);
});

Deno.test("formatPlan() lists the recorded changes as Would lines under a header", async () => {
  const host = new HostMutator(new FakeRunner(), true);
  assert.equal(formatPlan(host.changes), "Dry run: nothing to change");
  await host.run(["k0s", "start"]);
  await host.wet("create directory ./x (mode 0700)", () => Promise.resolve());
  assert.equal(
    formatPlan(host.changes),
    "Dry run: 2 change(s) planned, nothing was changed\n  Would run k0s start\n" +
      "  Would create directory ./x (mode 0700)",
  );
});

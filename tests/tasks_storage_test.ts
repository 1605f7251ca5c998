/**
 * From a source checkout, `deno task registry` and every registry storage command run through
 * `deno task k0rdentd` use one storage, `<checkout>/var/registry`: the real tasks of deno.json in
 * a copy of the project, with the daemon serving what `bundle load` stored and `registry status`,
 * `verify` and `gc` reading the same directory; `--storage` still picks another.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeBundle } from "./fixtures/make_bundle.ts";
import { freePort } from "./helpers/free_port.ts";
import { copySources } from "./helpers/source_copy.ts";

const decoder = new TextDecoder();

/** `deno task <args>` in `root`, with a clean environment. */
function task(root: string, args: string[], stdout: "piped" | "null" = "piped") {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", ...args],
    cwd: root,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/tmp",
      NO_COLOR: "1",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    },
    stdin: "null",
    stdout,
    stderr: "piped",
  });
}

async function run(root: string, ...args: string[]) {
  const out = await task(root, ["k0rdentd", "--", ...args]).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test({
  name:
    "deno task registry and deno task k0rdentd -- registry status|verify|gc, bundle load share ./var/registry",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "k0rdentd-task-storage-" });
    const root = join(base, "checkout");
    await Deno.mkdir(root);
    let daemon: Deno.ChildProcess | undefined;
    let daemonLog: ReadableStreamDefaultReader<string> | undefined;
    try {
      await copySources(root, { linkNodeModules: true });
      const storage = join(root, "var", "registry");
      const bundle = join(base, "airgap-bundle-1.2.3.tar.gz");
      const contents = await makeBundle(bundle, { images: 2 });

      // Before anything is written: the k0rdentd task looks in the checkout's var/registry.
      const before = await run(root, "registry", "status");
      assert.equal(before.code, 1, before.stderr);
      assert.match(before.stderr, new RegExp(`Registry storage "${storage}" does not exist`));

      // The daemon from its task, as README shows it, with flags for a test host.
      const port = freePort();
      daemon = task(root, [
        "registry",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--files-port",
        "0",
        "--tls",
        "off",
      ], "null").spawn();
      const lines = daemonLog = daemon.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let log = "";
      const deadline = Date.now() + 60_000;
      while (!log.includes("Registry serving")) {
        assert.ok(Date.now() < deadline, `the daemon did not come up:\n${log}`);
        const { value, done } = await lines.read();
        assert.ok(!done, `the daemon exited:\n${log}`);
        log += value;
      }
      assert.match(
        log,
        new RegExp(`Registry serving http://127\\.0\\.0\\.1:${port} from "${storage}"`),
      );

      // bundle load without --storage: into the daemon's storage, which serves it at once.
      const load = await run(root, "bundle", "load", bundle, "--verify=false");
      assert.equal(load.code, 0, load.stderr);
      const catalog = await (await fetch(`http://127.0.0.1:${port}/v2/_catalog`)).json();
      assert.equal(
        catalog.repositories.length,
        new Set([...contents.refs.keys()].map((r) => r.split(":")[0])).size,
      );

      const status = await run(root, "registry", "status", "--output", "json");
      assert.equal(status.code, 0, status.stderr);
      const shown = JSON.parse(status.stdout);
      assert.equal(shown.storage, storage);
      assert.equal(shown.state, "complete");
      assert.equal(shown.bundle, bundle);

      const verify = await run(root, "registry", "verify", "--output", "json");
      assert.equal(verify.code, 0, verify.stderr);
      assert.ok(JSON.parse(verify.stdout).blobs > 0, verify.stdout);
      const gc = await run(root, "registry", "gc", "--dry-run");
      assert.equal(gc.code, 0, gc.stderr);

      // --storage still wins over the task's default.
      const other = await run(root, "registry", "status", "--storage", join(base, "elsewhere"));
      assert.equal(other.code, 1);
      assert.match(other.stderr, new RegExp(`"${join(base, "elsewhere")}" does not exist`));
    } finally {
      if (daemon) {
        daemon.kill("SIGTERM");
        await daemonLog?.cancel();
        await daemon.status;
      }
      await Deno.remove(base, { recursive: true });
    }
  },
});

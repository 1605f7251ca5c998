/**
 * The real thing: compiles the air-gap flavor with fake k0s and helm (shell
 * scripts) and runs the executable's `show-flavor`, `version` and
 * `export-worker-artifacts`. Needs a compile base: `deno compile` downloads
 * denort from the internet unless `DENORT_BIN` points at one, so without
 * DENORT_BIN (for this machine's arch) the test is reported as ignored with
 * the reason in its name.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ProcessRunner } from "../src/process/runner.ts";
import { airgapProgram } from "../tasks/build_airgap.ts";
import { hostTarget } from "../tasks/targets.ts";
import { copySources } from "./helpers/source_copy.ts";
import { ignoreIf } from "./helpers/tools.ts";

const DENORT_BIN = Deno.env.get("DENORT_BIN");

async function run(argv: string[], env: Record<string, string>, cwd: string) {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1", ...env },
    clearEnv: true,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  ...ignoreIf(
    "compiled air-gap binary runs show-flavor, version and export-worker-artifacts",
    DENORT_BIN ? undefined : "DENORT_BIN is not set, and deno compile cannot download denort here",
  ),
  sanitizeResources: false,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "k0rdentd-compiled-" });
    try {
      const root = join(base, "root");
      await Deno.mkdir(root);
      await copySources(root);
      const k0s = "#!/bin/sh\necho fake k0s\n";
      const helm = "#!/bin/sh\necho fake helm\n";
      await Deno.writeTextFile(join(base, "k0s"), k0s, { mode: 0o755 });
      await Deno.writeTextFile(join(base, "helm"), helm, { mode: 0o755 });
      await airgapProgram(undefined, { root, runner: new ProcessRunner() }).parseAsync([
        "--target",
        hostTarget().triple,
        "--k0s-binary",
        join(base, "k0s"),
        "--helm-binary",
        join(base, "helm"),
        "--compression",
        "gzip",
      ], { from: "user" });
      const exe = join(root, "dist", `k0rdentd-airgap-linux-${hostTarget().arch}`);
      // Run from another dir, with the staged files gone: everything must come from inside the binary.
      const cwd = join(base, "elsewhere");
      await Deno.mkdir(cwd);
      const env = { K0RDENTD_ROOT: join(base, "host"), HOME: base };

      const flavor = await run([exe, "show-flavor", "--output", "json"], env, cwd);
      assert.equal(flavor.code, 0, flavor.stderr);
      const shown = JSON.parse(flavor.stdout);
      assert.equal(shown.flavor, "airgap");
      assert.deepEqual(
        shown.assets.map((a: { name: string; sha256: string }) => [a.name, a.sha256]),
        [
          ["k0s", createHash("sha256").update(k0s).digest("hex")],
          ["helm", createHash("sha256").update(helm).digest("hex")],
        ],
      );
      const version = await run([exe, "version"], env, cwd);
      assert.match(version.stdout, /\(airgap\)/);

      const bundle = await run(
        [exe, "export-worker-artifacts", "-o", "wb", "--registry-address", "10.0.0.5:5000"],
        env,
        cwd,
      );
      assert.equal(bundle.code, 0, bundle.stderr);
      assert.equal(await Deno.readTextFile(join(cwd, "wb", "k0s")), k0s);
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

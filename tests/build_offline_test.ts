/**
 * `deno task build` where deno compile cannot get its compile base: the real task and the real
 * `deno compile` in a copy of the project, with no DENORT_BIN, an empty download cache and every
 * download going to a closed port (HTTPS_PROXY), as on a machine without internet access. The
 * npm packages come from this machine's deno cache (linked in), npm's registry is not proxied.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathExists } from "../src/fsx/exists.ts";
import { freePort } from "./helpers/free_port.ts";
import { copySources } from "./helpers/source_copy.ts";

/** This machine's deno cache directory (`deno info --json`). */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

Deno.test({
  name: "deno task build without DENORT_BIN or internet fails with one line and leaves nothing",
  sanitizeResources: false,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "k0rdentd-build-offline-" });
    try {
      const root = join(base, "root");
      await Deno.mkdir(root);
      await copySources(root, { dirs: ["src", "tasks"], linkNodeModules: true });
      // An empty cache but for the npm packages: no denort in it, whatever this machine has.
      const cache = join(base, "deno-dir");
      await Deno.mkdir(cache);
      await Deno.symlink(join(await denoDir(), "npm"), join(cache, "npm"));
      const proxy = `http://127.0.0.1:${freePort()}`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "build"],
        cwd: root,
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: base,
          DENO_DIR: cache,
          HTTPS_PROXY: proxy,
          HTTP_PROXY: proxy,
          NO_PROXY: "registry.npmjs.org",
          NO_COLOR: "1",
          // deno's error then ends with a backtrace, which must not reach the user.
          RUST_BACKTRACE: "1",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr);
      assert.equal(stdout, "");
      const lines = stderr.trimEnd().split("\n");
      // "Task build ...", two INFO lines (compile base, compiling), then the one error line.
      const errors = lines.filter((line) => !/^(Task build |INFO {2})/.test(line));
      assert.equal(errors.length, 1, stderr);
      assert.match(
        errors[0],
        new RegExp(
          `^ERROR deno compile needs its runtime base \\(denort\\) from the internet or ` +
            `DENORT_BIN: DENORT_BIN is not set, ".*deno-dir/dl/release/v${Deno.version.deno}/` +
            `denort-x86_64-unknown-linux-gnu\\.zip" does not exist, and downloading ` +
            `https://dl\\.deno\\.land/\\S+\\.zip failed \\(.+\\); set DENORT_BIN to the denort ` +
            `binary of Deno ${Deno.version.deno} for x86_64-unknown-linux-gnu$`.replaceAll(
              "x86_64-unknown-linux-gnu",
              Deno.build.target,
            ),
        ),
      );
      assert.doesNotMatch(stderr, /backtrace|<unknown>/i);
      assert.equal(await pathExists(join(root, "dist")), false, "no dist/ is left behind");
      assert.equal(await pathExists(join(root, "assets")), false, "no assets/ is left behind");
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});

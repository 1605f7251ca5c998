/**
 * Tests of `deno task build` (the online executable) up to the compile step:
 * the real task program with the FakeRunner in place of `deno compile`, which
 * cannot get its compile base here.
 */
import assert from "node:assert/strict";
import { join, relative, resolve } from "node:path";
import type { BuildInfo } from "../src/assets/build_info.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { FakeRunner, type RecordedCall } from "../src/process/fake_runner.ts";
import { buildProgram } from "../tasks/build.ts";
import { WORKER_MODULES } from "../tasks/compile.ts";
import { pathExists } from "../src/fsx/exists.ts";

Deno.test("build compiles dist/k0rdentd-linux-<arch> embedding only the online build metadata", async () => {
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-build-online-" });
  try {
    let staged: BuildInfo | undefined;
    const runner = new FakeRunner().on(/ compile /, async (call: RecordedCall) => {
      staged = JSON.parse(await Deno.readTextFile(join(root, "assets", "build-info.json")));
      const output = call.argv[call.argv.indexOf("--output") + 1];
      await Deno.mkdir(join(root, "dist"), { recursive: true });
      await Deno.writeFile(join(root, output), new Uint8Array(1000));
      return { code: 0 };
    });
    // A cached compile base (any file) in DENO_DIR: then no DENORT_BIN is needed or passed.
    const env: Record<string, string> = { DENO_DIR: join(root, "deno-dir") };
    const zip = join(
      env.DENO_DIR,
      `dl/release/v${Deno.version.deno}/denort-aarch64-unknown-linux-gnu.zip`,
    );
    await Deno.mkdir(join(zip, ".."), { recursive: true });
    await Deno.writeFile(zip, new Uint8Array(1));
    await buildProgram(undefined, {
      runner,
      root,
      env: (name) => env[name],
      now: () => new Date("2026-02-03T04:05:06.000Z"),
    }).parseAsync(["--target", "aarch64-unknown-linux-gnu"], { from: "user" });

    // deno compile writes a temp file beside the artifact, renamed into place once it succeeded.
    const argv = runner.calls[0].argv;
    const output = argv[argv.indexOf("--output") + 1];
    assert.match(output, /^dist\/\.k0rdentd-linux-arm64\.[0-9a-f]{8}\.part$/);
    assert.deepEqual(runner.calls.map((c) => c.argv), [[
      Deno.execPath(),
      "compile",
      "--frozen",
      "--exclude-unused-npm",
      ...BINARY_PERMISSIONS,
      "--target",
      "aarch64-unknown-linux-gnu",
      ...WORKER_MODULES.flatMap((m) => ["--include", m]),
      "--include",
      "assets/build-info.json",
      "--output",
      output,
      "main.ts",
    ]]);
    assert.equal(runner.calls[0].env, undefined);
    assert.equal(staged?.flavor, "online");
    assert.equal(staged?.buildTime, "2026-02-03T04:05:06.000Z");
    assert.equal(staged?.target, "aarch64-unknown-linux-gnu");
    assert.deepEqual(staged?.assets, []);
    assert.equal(staged?.k0sVersion, undefined);
    assert.equal(await pathExists(join(root, "assets")), false, "the assets/ it made is gone");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(root, "dist")), (e) => e.name), [
      "k0rdentd-linux-arm64",
    ]);
    assert.equal((await Deno.stat(join(root, "dist/k0rdentd-linux-arm64"))).size, 1000);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("build reports a compile failure in one line and leaves no dist/ or temp file behind", async () => {
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-build-online-" });
  try {
    const bin = join(root, "denort");
    await Deno.writeFile(
      bin,
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ...new Array(14).fill(0), 0x3e, 0]),
    );
    // Like deno compile killed mid-write: it has made the output dir and its own temp file.
    const runner = new FakeRunner().on(/ compile /, async (call: RecordedCall) => {
      const output = call.argv[call.argv.indexOf("--output") + 1];
      await Deno.mkdir(join(root, "out", "linux"), { recursive: true });
      await Deno.writeFile(join(root, `${output}.tmp-0123456789abcdef`), new Uint8Array(10));
      return {
        code: 1,
        stderrTail: "TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.\n" +
          "    at file:///src/x.ts:1:7\n\nerror: Type checking failed.\n",
      };
    });
    await assert.rejects(
      buildProgram(undefined, { runner, root, env: (n) => (n === "DENORT_BIN" ? bin : undefined) })
        .parseAsync(["--target", "x86_64-unknown-linux-gnu", "--out-dir", "out/linux"], {
          from: "user",
        }),
      /^UserError: deno compile failed for x86_64-unknown-linux-gnu \(exit code 1\): Type checking failed\.$/,
    );
    assert.deepEqual(runner.calls[0].env, { DENORT_BIN: bin });
    assert.deepEqual(await Array.fromAsync(Deno.readDir(root), (e) => e.name), ["denort"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("build hands deno compile a DENORT_BIN it can read from the project root, and refuses an empty one", async () => {
  const base = await Deno.makeTempDir({ prefix: "k0rdentd-build-online-" });
  try {
    const root = join(base, "root");
    await Deno.mkdir(root);
    const bin = join(base, "denort");
    await Deno.writeFile(
      bin,
      new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ...new Array(14).fill(0), 0x3e, 0]),
    );
    // The fake deno compile reads DENORT_BIN as deno does (cli/standalone/binary.rs,
    // get_dev_binary_path): whenever it is set, relative to its own cwd, the project root.
    const runner = new FakeRunner().on(/ compile /, async (call: RecordedCall) => {
      const denort = call.env?.DENORT_BIN ?? Deno.env.get("DENORT_BIN");
      if (denort !== undefined && !await pathExists(resolve(root, denort))) {
        return { code: 1, stderrTail: `error: Could not find denort at '${denort}'\n` };
      }
      const output = call.argv[call.argv.indexOf("--output") + 1];
      await Deno.mkdir(join(root, "dist"), { recursive: true });
      await Deno.writeFile(join(root, output), new Uint8Array(10));
      return { code: 0 };
    });
    const build = (denortBin: string) =>
      buildProgram(undefined, {
        runner,
        root,
        env: (n) => (n === "DENORT_BIN" ? denortBin : undefined),
      }).parseAsync(["--target", "x86_64-unknown-linux-gnu"], { from: "user" });

    // Relative to where the task was started (this process's cwd), not to the project root.
    await build(relative(Deno.cwd(), bin));
    assert.deepEqual(runner.calls[0].env, { DENORT_BIN: bin });
    assert.equal(await pathExists(join(root, "dist/k0rdentd-linux-amd64")), true);

    // Set but empty: deno would try to read '' instead of its download cache.
    await assert.rejects(
      build(""),
      /^UserError: DENORT_BIN is set but empty: deno compile would read it as the compile base instead of its download cache; unset it or set it to the denort of Deno .+ for x86_64-unknown-linux-gnu$/,
    );
    assert.equal(runner.calls.length, 1, "no second compile ran");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

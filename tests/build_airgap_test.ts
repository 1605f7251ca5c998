/**
 * Tests of `deno task build-airgap` up to the compile step: the real task
 * program with fake k0s and helm (small shell scripts) and the FakeRunner in
 * place of `deno compile` (the compile base cannot be downloaded here). The
 * fake compile snapshots the staged assets dir, which then serves `deno run
 * main.ts show-flavor|version|export-worker-artifacts` through
 * K0RDENTD_ASSETS_DIR with the binary's permission flags.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { extractAsset } from "../src/assets/extract.ts";
import type { BuildInfo } from "../src/assets/build_info.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";
import { FakeRunner, type RecordedCall } from "../src/process/fake_runner.ts";
import { type AirgapDeps, airgapProgram } from "../tasks/build_airgap.ts";
import { WORKER_MODULES } from "../tasks/compile.ts";
import { runCli } from "./helpers/cli.ts";
import { copySources } from "./helpers/source_copy.ts";

const FAKE_K0S = "#!/bin/sh\n# fake k0s\necho v1.32.8+k0s.0\n" + "k".repeat(50_000) + "\n";
const FAKE_HELM = "#!/bin/sh\n# fake helm\necho v3.18.4\n" + "h".repeat(30_000) + "\n";

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");

/** An ELF header for `machine` (enough for the DENORT_BIN check). */
function elfHeader(machine: number): Uint8Array {
  const bytes = new Uint8Array(64);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  bytes[18] = machine & 0xff;
  bytes[19] = machine >> 8;
  return bytes;
}

/** A temp project root, fake tools and a fake denort; removed on dispose. */
async function workspace() {
  const base = await Deno.makeTempDir({ prefix: "k0rdentd-build-" });
  const root = join(base, "root");
  await Deno.mkdir(root);
  const k0s = join(base, "k0s");
  const helm = join(base, "helm");
  await Deno.writeTextFile(k0s, FAKE_K0S, { mode: 0o755 });
  await Deno.writeTextFile(helm, FAKE_HELM, { mode: 0o755 });
  const denortAmd64 = join(base, "denort-amd64");
  await Deno.writeFile(denortAmd64, elfHeader(0x3e));
  const snapshot = join(base, "snapshot");
  const runner = new FakeRunner();
  // The fake `deno compile`: keeps what it was given to embed, writes a stand-in artifact.
  runner.on(/ compile /, async (call: RecordedCall) => {
    await Deno.mkdir(snapshot, { recursive: true });
    for (const entry of Deno.readDirSync(join(root, "assets"))) {
      if (entry.isFile) {
        await Deno.copyFile(join(root, "assets", entry.name), join(snapshot, entry.name));
      }
    }
    const output = call.argv[call.argv.indexOf("--output") + 1];
    await Deno.mkdir(join(root, "dist"), { recursive: true });
    await Deno.writeFile(join(root, output), new Uint8Array(12_345));
    return { code: 0 };
  });
  const env: Record<string, string> = { DENORT_BIN: denortAmd64, DENO_DIR: join(base, "deno-dir") };
  const deps: AirgapDeps = {
    runner,
    root,
    env: (name) => env[name],
    now: () => new Date("2026-01-02T03:04:05.000Z"),
  };
  return {
    base,
    root,
    k0s,
    helm,
    snapshot,
    runner,
    env,
    /** Runs the task program with `args`. */
    run: (...args: string[]) => airgapProgram(undefined, deps).parseAsync(args, { from: "user" }),
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

/** Names in `dir`, sorted; [] when it does not exist. */
const listDir = async (dir: string) => {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
};

Deno.test("build-airgap with local binaries stages metadata and compressed assets and compiles with the right argv", async () => {
  await using w = await workspace();
  await w.run(
    "--target",
    "x86_64-unknown-linux-gnu",
    "--k0s-binary",
    w.k0s,
    "--helm-binary",
    w.helm,
  );

  assert.equal(w.runner.calls.length, 1);
  const call = w.runner.calls[0];
  const output = call.argv[call.argv.indexOf("--output") + 1];
  assert.match(output, /^dist\/\.k0rdentd-airgap-linux-amd64\.[0-9a-f]{8}\.part$/);
  assert.deepEqual(call.argv, [
    Deno.execPath(),
    "compile",
    "--frozen",
    "--exclude-unused-npm",
    ...BINARY_PERMISSIONS,
    "--target",
    "x86_64-unknown-linux-gnu",
    ...WORKER_MODULES.flatMap((m) => ["--include", m]),
    "--include",
    "assets/build-info.json",
    "--include",
    "assets/k0s.br",
    "--include",
    "assets/helm.br",
    "--output",
    output,
    "main.ts",
  ]);
  assert.deepEqual(call.env, { DENORT_BIN: w.env.DENORT_BIN });

  // What deno compile was given to embed.
  assert.deepEqual(await listDir(w.snapshot), [
    ".build.lock",
    "build-info.json",
    "helm.br",
    "k0s.br",
  ]);
  const info: BuildInfo = JSON.parse(await Deno.readTextFile(join(w.snapshot, "build-info.json")));
  assert.equal(info.flavor, "airgap");
  assert.equal(info.k0sVersion, "v1.32.8+k0s.0");
  assert.equal(info.helmVersion, "v3.18.4");
  assert.equal(info.buildTime, "2026-01-02T03:04:05.000Z");
  assert.equal(info.target, "x86_64-unknown-linux-gnu");
  for (const [name, content] of [["k0s", FAKE_K0S], ["helm", FAKE_HELM]] as const) {
    const asset = info.assets.find((a) => a.name === name)!;
    const packed = await Deno.readFile(join(w.snapshot, `${name}.br`));
    assert.deepEqual(
      { ...asset },
      {
        name,
        file: `${name}.br`,
        version: name === "k0s" ? "v1.32.8+k0s.0" : "v3.18.4",
        size: content.length,
        sha256: sha256(content),
        compressedSize: packed.length,
        compressedSha256: sha256(packed),
        compression: "brotli",
      },
    );
    assert.ok(packed.length < content.length / 10, `${name} is compressed`);
    // The run-time loader gets the original back.
    const out = join(w.base, `out-${name}`);
    await extractAsset(name, out, { dir: w.snapshot });
    assert.equal(await Deno.readTextFile(out), content);
  }

  // The staged files and the lock are gone after the compile; the artifact is there.
  assert.deepEqual(await listDir(join(w.root, "assets")), []);
  assert.equal((await Deno.stat(join(w.root, "dist/k0rdentd-airgap-linux-amd64"))).size, 12_345);
});

Deno.test("build-airgap output runs under deno run: show-flavor, version and export-worker-artifacts use the staged assets", async () => {
  await using w = await workspace();
  await w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm, "--compression", "gzip");
  const info: BuildInfo = JSON.parse(await Deno.readTextFile(join(w.snapshot, "build-info.json")));
  const env = { K0RDENTD_ASSETS_DIR: w.snapshot, K0RDENTD_ROOT: join(w.base, "host") };

  const flavor = await runCli(["show-flavor", "--output", "json"], { env });
  assert.equal(flavor.code, 0, flavor.stderr);
  const shown = JSON.parse(flavor.stdout);
  assert.equal(shown.flavor, "airgap");
  assert.equal(shown.k0sVersion, "v1.32.8+k0s.0");
  assert.equal(shown.helmVersion, "v3.18.4");
  assert.deepEqual(
    shown.assets,
    info.assets.map(({ name, version, size, sha256 }) => ({ name, version, size, sha256 })),
  );
  const text = await runCli(["show-flavor"], { env });
  assert.match(text.stdout, /^Flavor: airgap$/m);
  assert.match(
    text.stdout,
    new RegExp(
      `k0s v1\\.32\\.8\\+k0s\\.0 \\(${FAKE_K0S.length} bytes, sha256:${sha256(FAKE_K0S)}\\)`,
    ),
  );

  const version = await runCli(["version"], { env });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^k0rdentd \d+\.\d+\.\d+ \(airgap\)$/m);
  assert.match(version.stdout, /^k0s: +v1\.32\.8\+k0s\.0$/m);
  assert.match(version.stdout, /^helm: +v3\.18\.4$/m);
  assert.match(version.stdout, /^built: +2026-01-02T03:04:05\.000Z$/m);
  assert.match(version.stdout, new RegExp(`asset: +helm v3\\.18\\.4 sha256:${sha256(FAKE_HELM)}`));

  // The worker bundle gets the embedded k0s, extracted byte-identical.
  const bundle = await runCli(
    ["export-worker-artifacts", "-o", "wb", "--registry-address", "10.0.0.5:5000"],
    { env, cwd: w.base },
  );
  assert.equal(bundle.code, 0, bundle.stderr);
  assert.equal(await Deno.readTextFile(join(w.base, "wb", "k0s")), FAKE_K0S);
});

Deno.test("build-airgap --target aarch64 embeds the given binaries for arm64 and checks DENORT_BIN's arch", async () => {
  await using w = await workspace();
  await assert.rejects(
    w.run("--target", "aarch64-unknown-linux-gnu", "--k0s-binary", w.k0s, "--helm-binary", w.helm),
    /DENORT_BIN ".*denort-amd64" is a runtime for x86_64-unknown-linux-gnu, but the target is aarch64-unknown-linux-gnu/,
  );
  assert.equal(w.runner.calls.length, 0);
  assert.deepEqual(await listDir(join(w.root, "assets")), []);

  const arm = join(w.base, "denort-arm64");
  await Deno.writeFile(arm, elfHeader(0xb7));
  w.env.DENORT_BIN = arm;
  await w.run(
    "--target",
    "aarch64-unknown-linux-gnu",
    "--k0s-binary",
    w.k0s,
    "--helm-binary",
    w.helm,
  );
  const argv = w.runner.calls[0].argv;
  assert.equal(argv[argv.indexOf("--target") + 1], "aarch64-unknown-linux-gnu");
  assert.match(
    argv[argv.indexOf("--output") + 1],
    /^dist\/\.k0rdentd-airgap-linux-arm64\.\w+\.part$/,
  );
  assert.equal((await Deno.stat(join(w.root, "dist/k0rdentd-airgap-linux-arm64"))).size, 12_345);
  const info: BuildInfo = JSON.parse(await Deno.readTextFile(join(w.snapshot, "build-info.json")));
  assert.equal(info.target, "aarch64-unknown-linux-gnu");
  assert.deepEqual(info.assets.map((a) => a.name).sort(), ["helm", "k0s"]);
});

Deno.test("build-airgap without DENORT_BIN or a cached compile base says so in one line when the download fails", async () => {
  await using w = await workspace();
  delete w.env.DENORT_BIN;
  // What deno 2.9 prints when dl.deno.land cannot be reached, with RUST_BACKTRACE=1 and colours.
  const url =
    `https://dl.deno.land/release/v${Deno.version.deno}/denort-x86_64-unknown-linux-gnu.zip`;
  w.runner.on(/ compile /, async (call: RecordedCall) => {
    const output = call.argv[call.argv.indexOf("--output") + 1];
    await Deno.mkdir(join(w.root, "dist"), { recursive: true });
    return {
      code: 1,
      stderrTail: `\x1b[0m\x1b[32mCompile\x1b[0m main.ts to file://${join(w.root, output)}\n` +
        `\x1b[0m\x1b[32mDownload\x1b[0m ${url}\n` +
        `\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file ` +
        `'${join(w.root, output)}.tmp-fca28bdd2696b172'\n\nCaused by:\n` +
        `    0: Setting up base binary.\n` +
        `    1: error sending request for url (${url}): client error (Connect): dns error: ` +
        `failed to lookup address information: Name or service not known\n` +
        `    2: client error (Connect)\n    3: dns error\n` +
        `    4: failed to lookup address information: Name or service not known\n\n` +
        `Stack backtrace:\n   0: <unknown>\n`,
    };
  });
  await assert.rejects(
    w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm),
    (err: Error) => {
      assert.equal(
        err.message,
        "deno compile needs its runtime base (denort) from the internet or DENORT_BIN: " +
          `DENORT_BIN is not set, "${
            join(w.base, "deno-dir", "dl", "release", `v${Deno.version.deno}`)
          }/denort-x86_64-unknown-linux-gnu.zip" does not exist, and downloading ${url} failed ` +
          "(failed to lookup address information: Name or service not known); set DENORT_BIN " +
          `to the denort binary of Deno ${Deno.version.deno} for x86_64-unknown-linux-gnu`,
      );
      return true;
    },
  );
  assert.equal(w.runner.calls[0].env, undefined);
  // Nothing staged is left behind after a failed compile, and no dist/ that deno made.
  assert.deepEqual(await listDir(join(w.root, "assets")), []);
  assert.deepEqual(await listDir(w.root), []);
});

Deno.test("build-airgap --no-compile stages the assets and leaves them for deno run", async () => {
  await using w = await workspace();
  await w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm, "--no-compile");
  assert.equal(w.runner.calls.length, 0);
  assert.deepEqual(await listDir(join(w.root, "assets")), ["build-info.json", "helm.br", "k0s.br"]);
});

Deno.test("build-airgap rejects bad input with clear errors and stages nothing", async () => {
  await using w = await workspace();
  await assert.rejects(
    w.run("--k0s-binary", join(w.base, "missing"), "--helm-binary", w.helm),
    /^UserError: Cannot read k0s binary ".*missing": /,
  );
  const armHelm = join(w.base, "helm-arm64");
  await Deno.writeFile(armHelm, elfHeader(0xb7));
  await assert.rejects(
    w.run("--k0s-binary", w.k0s, "--helm-binary", armHelm),
    /^UserError: helm binary ".*helm-arm64" is built for aarch64-unknown-linux-gnu, but the target is x86_64-unknown-linux-gnu$/,
  );
  await assert.rejects(
    w.run("--k0s-version", "1.32", "--k0s-binary", w.k0s, "--helm-binary", w.helm),
    /Invalid --k0s-version "1\.32": expected e\.g\. v1\.32\.8\+k0s\.0/,
  );
  await assert.rejects(
    w.run("--k0s-version", "v1.99.0+k0s.0", "--helm-binary", w.helm),
    /No pinned SHA-256 for k0s v1\.99\.0\+k0s\.0 \(amd64\): pass --k0s-sha256/,
  );
  await assert.rejects(
    w.run("--target", "riscv64gc-unknown-linux-gnu", "--k0s-binary", w.k0s),
    /argument 'riscv64gc-unknown-linux-gnu' is invalid/,
  );
  await assert.rejects(
    w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm, "--what"),
    /unknown option/,
  );
  assert.equal(w.runner.calls.length, 0);
  assert.deepEqual(await listDir(join(w.root, "assets")), []);
});

Deno.test("build-airgap refuses to stage while another build holds assets/ and takes over a stale lock", async () => {
  await using w = await workspace();
  const lock = join(w.root, "assets", ".build.lock");
  await Deno.mkdir(join(w.root, "assets"));
  await Deno.writeTextFile(lock, `${Deno.pid}\n`);
  await assert.rejects(
    w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm),
    new RegExp(`Another build \\(pid ${Deno.pid}\\) is staging in ".*assets": wait for it`),
  );
  assert.equal(await Deno.readTextFile(lock), `${Deno.pid}\n`, "a live lock is left alone");
  await Deno.writeTextFile(lock, "999999999\n"); // no such process
  await w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm);
  assert.equal(w.runner.calls.length, 1);
  assert.deepEqual(await listDir(join(w.root, "assets")), []);
});

Deno.test("the build-airgap task script exits 2 on usage errors and 1 on user errors, with one line and no stack", async () => {
  const script = join(import.meta.dirname!, "../tasks/build_airgap.ts");
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "-A", script, ...args],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  const usage = await run("--k0s-version", "latest");
  assert.equal(usage.code, 2, usage.stderr);
  assert.match(usage.stderr, /Invalid --k0s-version "latest"/);
  const user = await run("--k0s-version", "v1.99.0+k0s.0", "--helm-binary", "/nonexistent");
  assert.equal(user.code, 1, user.stderr);
  assert.match(user.stderr, /^ERROR +No pinned SHA-256 for k0s v1\.99\.0\+k0s\.0/m);
  assert.doesNotMatch(user.stderr + usage.stderr, /\n\s+at /);
});

Deno.test("the files build-airgap names with --include are the ones the program finds without K0RDENTD_ASSETS_DIR", async () => {
  // In the compiled binary the project root is the root of deno's virtual file system
  // (denoland/deno v2.9.5 cli/rt/binary.rs: <tmp>/deno-compile-<exe name>, the common ancestor of
  // main.ts and the --include paths), so `--include assets/x` (relative to the root, deno's cwd)
  // lands where assetsDir() looks: import.meta.dirname of src/assets/ + ../../assets. The same
  // layout in a copy of the sources, under deno run with no override, must read the staged files.
  await using w = await workspace();
  await copySources(w.root);
  const elsewhere = join(w.base, "elsewhere");
  await Deno.mkdir(elsewhere);
  const runCopy = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...BINARY_PERMISSIONS, join(w.root, "main.ts"), ...args],
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/tmp",
        NO_COLOR: "1",
        K0RDENTD_ROOT: join(w.base, "host"),
        ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      },
      clearEnv: true,
      cwd: elsewhere,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  let shown: { flavor: string; assets: { name: string; sha256: string }[] } | undefined;
  let bundle: { code: number; stderr: string } | undefined;
  w.runner.on(/ compile /, async (call: RecordedCall) => {
    const includes = call.argv.flatMap((a, i) => call.argv[i - 1] === "--include" ? [a] : []);
    // deno compile refuses an --include that does not exist ("Including <path>").
    for (const path of includes) await Deno.stat(join(w.root, path));
    assert.deepEqual(includes.filter((p) => p.startsWith("assets/")).sort(), [
      "assets/build-info.json",
      "assets/helm.gz",
      "assets/k0s.gz",
    ]);
    const flavor = await runCopy("show-flavor", "--output", "json");
    assert.equal(flavor.code, 0, flavor.stderr);
    shown = JSON.parse(flavor.stdout);
    bundle = await runCopy(
      "export-worker-artifacts",
      "-o",
      "wb",
      "--registry-address",
      "10.0.0.5:5000",
    );
    const output = call.argv[call.argv.indexOf("--output") + 1];
    await Deno.mkdir(join(w.root, "dist"), { recursive: true });
    await Deno.writeFile(join(w.root, output), new Uint8Array(1));
    return { code: 0 };
  });
  await w.run("--k0s-binary", w.k0s, "--helm-binary", w.helm, "--compression", "gzip");
  assert.equal(shown?.flavor, "airgap");
  assert.deepEqual(shown?.assets.map((a) => [a.name, a.sha256]), [
    ["k0s", sha256(FAKE_K0S)],
    ["helm", sha256(FAKE_HELM)],
  ]);
  assert.equal(bundle?.code, 0, bundle?.stderr);
  assert.equal(await Deno.readTextFile(join(elsewhere, "wb", "k0s")), FAKE_K0S);
});

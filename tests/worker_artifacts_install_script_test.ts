/**
 * The generated worker `install.sh`: syntax (`sh -n`), `shellcheck`, and real runs under a temp
 * root. k0s is faked by `tests/fakes/k0s_worker.sh` (bundled as the "k0s binary", so the script
 * runs the copy it installed); the kubelet health endpoint is a real HTTP server on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderInstallScript } from "../src/worker_artifacts/install_script.ts";
import {
  BUNDLE,
  HOST_TOKEN_FILE,
  k0sBinaryFile,
  mirroredHostFile,
} from "../src/worker_artifacts/layout.ts";
import { writeChecksums } from "../src/worker_artifacts/checksums.ts";
import { needsTools } from "./helpers/tools.ts";

const FAKE_K0S = fileURLToPath(new URL("./fakes/k0s_worker.sh", import.meta.url));
const CRI = "/etc/k0s/containerd.d/cri-registry.toml";
const HOSTS = "/etc/k0s/containerd.d/certs.d/quay.io/hosts.toml";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  const out = await new Deno.Command("sh", { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A bundle in a temp dir, a temp root, a fake kubelet healthz server; removed on dispose. */
async function fixture() {
  const base = await Deno.makeTempDir({ prefix: "worker-install-" });
  const bundle = join(base, "bundle");
  const root = join(base, "root");
  await Deno.mkdir(join(bundle, "files/etc/k0s/containerd.d/certs.d/quay.io"), { recursive: true });
  await Deno.mkdir(root);
  await Deno.copyFile(FAKE_K0S, join(bundle, BUNDLE.k0sBinary));
  await Deno.writeTextFile(join(bundle, "files", CRI), "version = 2\n");
  await Deno.writeTextFile(join(bundle, "files", HOSTS), 'server = "https://quay.io"\n');
  await Deno.writeTextFile(join(bundle, BUNDLE.token), "SECRET-TOKEN\n", { mode: 0o600 });
  const files = [k0sBinaryFile(), mirroredHostFile(CRI), mirroredHostFile(HOSTS)];
  await Deno.writeTextFile(
    join(bundle, BUNDLE.installScript),
    renderInstallScript({ k0sVersion: "v1.32.8+k0s.0", generator: "test", files }),
  );
  await writeChecksums(bundle, BUNDLE.checksums, files.map((f) => f.source));
  let healthy = true;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(healthy ? "ok" : "down", { status: healthy ? 200 : 500 }),
  );
  const env = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    K0RDENTD_ROOT: root,
    FAKE_K0S_LOG: join(base, "k0s.log"),
    K0RDENTD_KUBELET_HEALTHZ: `http://127.0.0.1:${server.addr.port}/healthz`,
  };
  return {
    base,
    bundle,
    root,
    env,
    setHealthy(v: boolean) {
      healthy = v;
    },
    run: (...args: string[]) => sh([join(bundle, BUNDLE.installScript), ...args], env),
    async k0sCalls(): Promise<string[]> {
      const text = await Deno.readTextFile(env.FAKE_K0S_LOG).catch(() => "");
      return text.split("\n").filter((l) => l !== "");
    },
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await Deno.remove(base, { recursive: true });
    },
  };
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    if (e.isDirectory) out.push(...await listTree(join(dir, e.name), rel + "/"));
    else out.push(rel);
  }
  return out.sort();
}

const sample = () =>
  renderInstallScript({
    k0sVersion: "v1.32.8+k0s.0",
    generator: "0.1.0",
    files: [
      k0sBinaryFile(),
      mirroredHostFile(CRI),
      mirroredHostFile("/etc/k0s/containerd.d/certs.d/[fd00::5]:5000/hosts.toml"),
    ],
  });

Deno.test(
  await needsTools("renderInstallScript() output passes sh -n and shellcheck", "shellcheck"),
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "install.sh");
      await Deno.writeTextFile(path, sample());
      const syntax = await sh(["-n", path], {});
      assert.deepEqual(syntax.code, 0, syntax.stderr);
      const check = await new Deno.Command("shellcheck", { args: ["-s", "sh", path] }).output();
      assert.deepEqual(check.code, 0, new TextDecoder().decode(check.stdout));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("renderInstallScript() rejects paths that cannot be written safely", () => {
  for (const target of ["/etc/k0s/a b", "/etc/k0s/$(id)", "/etc/k0s/'x", "/etc/../x"]) {
    assert.throws(() =>
      renderInstallScript({
        k0sVersion: "v1.32.8+k0s.0",
        generator: "t",
        files: [mirroredHostFile(target)],
      })
    );
  }
});

Deno.test(
  await needsTools(
    "install.sh installs binary, drop-ins and token, joins, starts and waits",
    "curl",
  ),
  async () => {
    await using f = await fixture();
    const r = await f.run();
    assert.deepEqual(r.code, 0, r.stderr + r.stdout);
    const k0s = await Deno.stat(join(f.root, "usr/local/bin/k0s"));
    assert.deepEqual(k0s.mode! & 0o777, 0o755);
    assert.deepEqual(
      await Deno.readFile(join(f.root, "usr/local/bin/k0s")),
      await Deno.readFile(FAKE_K0S),
    );
    assert.deepEqual(await Deno.readTextFile(join(f.root, CRI)), "version = 2\n");
    assert.deepEqual(await Deno.readTextFile(join(f.root, HOSTS)), 'server = "https://quay.io"\n');
    const token = join(f.root, HOST_TOKEN_FILE);
    assert.deepEqual(await Deno.readTextFile(token), "SECRET-TOKEN\n");
    assert.deepEqual((await Deno.stat(token)).mode! & 0o777, 0o600);
    assert.deepEqual(await f.k0sCalls(), [
      `install worker --token-file ${token}`,
      "start",
      "status",
    ]);
    assert.match(r.stdout, /the kubelet is healthy/);
    // No temp files left beside the installed files.
    assert.deepEqual((await listTree(f.root)).filter((p) => p.includes(".install.")), []);
  },
);

Deno.test("install.sh rerun on a running node is a no-op", async () => {
  await using f = await fixture();
  assert.deepEqual((await f.run()).code, 0);
  const before = await Deno.stat(join(f.root, "usr/local/bin/k0s"));
  const calls = (await f.k0sCalls()).length;
  const r = await f.run();
  assert.deepEqual(r.code, 0, r.stderr);
  assert.match(r.stdout, /already installed and running.*nothing to do/);
  assert.deepEqual((await f.k0sCalls()).slice(calls), ["status"]);
  const after = await Deno.stat(join(f.root, "usr/local/bin/k0s"));
  assert.deepEqual(after.mtime, before.mtime);
});

Deno.test("install.sh on an installed but stopped node only starts k0s", async () => {
  await using f = await fixture();
  assert.deepEqual((await f.run()).code, 0);
  await Deno.remove(join(f.root, "run/fake-k0s.running"));
  const calls = (await f.k0sCalls()).length;
  const r = await f.run();
  assert.deepEqual(r.code, 0, r.stderr);
  assert.match(r.stdout, /k0s is up to date|usr\/local\/bin\/k0s is up to date/);
  assert.deepEqual((await f.k0sCalls()).slice(calls), ["status", "start", "status"]);
});

Deno.test("install.sh with a tampered binary fails the checksum and installs nothing", async () => {
  await using f = await fixture();
  await Deno.writeTextFile(join(f.bundle, BUNDLE.k0sBinary), "#!/bin/sh\necho evil\n", {
    append: true,
  });
  const r = await f.run();
  assert.deepEqual(r.code, 1);
  assert.match(r.stderr, /k0s: FAILED/);
  assert.match(r.stderr, /checksum verification failed; nothing was installed/);
  assert.deepEqual(await listTree(f.root), []);
  assert.deepEqual(await f.k0sCalls(), []);
});

Deno.test("install.sh --dry-run changes nothing and prints the plan", async () => {
  await using f = await fixture();
  const r = await f.run("--dry-run");
  assert.deepEqual(r.code, 0, r.stderr);
  assert.match(r.stdout, /would install \/usr\/local\/bin\/k0s/);
  assert.match(r.stdout, /would run: k0s install worker --token-file \/etc\/k0s\/worker-token/);
  assert.deepEqual(await listTree(f.root), []);
  assert.deepEqual(await f.k0sCalls(), []);
});

Deno.test("install.sh without a token explains how to get one and installs nothing", async () => {
  await using f = await fixture();
  await Deno.remove(join(f.bundle, BUNDLE.token));
  const r = await f.run();
  assert.deepEqual(r.code, 1);
  assert.match(r.stderr, /no join token .*k0s token create --role worker.*--token-file/);
  assert.deepEqual(await listTree(f.root), []);
});

Deno.test("install.sh --token-file uses the given token", async () => {
  await using f = await fixture();
  await Deno.remove(join(f.bundle, BUNDLE.token));
  const other = join(f.base, "my-token");
  await Deno.writeTextFile(other, "OTHER\n");
  const r = await f.run("--token-file", other);
  assert.deepEqual(r.code, 0, r.stderr);
  assert.deepEqual(await Deno.readTextFile(join(f.root, HOST_TOKEN_FILE)), "OTHER\n");
});

Deno.test(
  await needsTools(
    "install.sh fails with a clear message when the kubelet stays unhealthy",
    "curl",
  ),
  async () => {
    await using f = await fixture();
    f.setHealthy(false);
    const r = await f.run("--timeout", "0");
    assert.deepEqual(r.code, 1);
    assert.match(r.stderr, /kubelet is not healthy after 0s/);
  },
);

Deno.test("install.sh rejects bad arguments", async () => {
  await using f = await fixture();
  const bad = await f.run("--timeout", "soon");
  assert.deepEqual(bad.code, 1);
  assert.match(bad.stderr, /invalid --timeout "soon"/);
  const unknown = await f.run("--frobnicate");
  assert.deepEqual(unknown.code, 1);
  assert.match(unknown.stderr, /unknown argument "--frobnicate"/);
  assert.deepEqual(await listTree(f.root), []);
});

Deno.test("install.sh refuses to run as a non-root user", async () => {
  await using f = await fixture();
  await Deno.chmod(f.base, 0o755);
  await Deno.chmod(f.bundle, 0o755);
  const script = join(f.bundle, BUNDLE.installScript);
  await Deno.chmod(script, 0o755);
  const env = { PATH: f.env.PATH };
  const asRoot = Deno.uid() === 0;
  const args = asRoot
    ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", script]
    : ["sh", script];
  const out = await new Deno.Command(args[0], { args: args.slice(1), env, clearEnv: true })
    .output();
  assert.deepEqual(out.code, 1);
  assert.match(new TextDecoder().decode(out.stderr), /must run as root \(try: sudo /);
  assert.deepEqual(await listTree(f.root), []);
});

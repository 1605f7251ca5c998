/**
 * `k0rdentd export-worker-artifacts` end to end: the CLI runs as a subprocess under a temp root
 * whose `/usr/local/bin/k0s` is the fake `tests/fakes/k0s_worker.sh` (status, version, token
 * create, airgap list-images); the registry storage is real. The bundle it writes is checked
 * with the real `sha256sum`, `shellcheck`, `tar` and `skopeo`, and its `install.sh` is run
 * against a second temp root.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { ociArch } from "../src/worker_artifacts/system_images.ts";
import { runCli } from "./helpers/cli.ts";
import { FAKE_K0S, fakeController } from "./helpers/fake_controller.ts";
import { storeIndex, storeManifest } from "./helpers/store_image.ts";
import { needsTools } from "./helpers/tools.ts";

const dec = new TextDecoder();

async function tool(cmd: string, args: string[], env?: Record<string, string>, cwd?: string) {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function controller(options: { running?: boolean; role?: string } = {}) {
  return fakeController({ prefix: "worker-export-", ...options });
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test(
  await needsTools(
    "export-worker-artifacts on a controller writes a private, verifiable bundle",
    "shellcheck",
    "curl",
  ),
  async () => {
    await using c = await controller();
    const r = await c.cli(
      "export-worker-artifacts",
      "-o",
      "wb",
      "--expiry",
      "2h",
      "--registry-address",
      "10.0.0.5:5000",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /Wrote worker bundle "wb" .*registry 10\.0\.0\.5:5000, worker join token/,
    );
    const dir = join(c.base, "wb");
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(join(dir, "worker-token")), 0o600);
    assert.equal(await Deno.readTextFile(join(dir, "worker-token")), "fake-token-worker-2h\n");
    assert.equal(await mode(join(dir, "install.sh")), 0o755);
    assert.deepEqual(await Deno.readFile(join(dir, "k0s")), await Deno.readFile(FAKE_K0S));
    assert.ok((await c.k0sCalls()).includes("token create --role=worker --expiry=2h"));

    const cri = await Deno.readTextFile(join(dir, "files/etc/k0s/containerd.d/cri-registry.toml"));
    assert.match(cri, /config_path = "\/etc\/k0s\/containerd.d\/certs.d"/);
    const quay = await Deno.readTextFile(
      join(dir, "files/etc/k0s/containerd.d/certs.d/quay.io/hosts.toml"),
    );
    assert.match(quay, /https:\/\/10\.0\.0\.5:5000\/v2\/k0rdent-enterprise/);
    // Images named after the controller's own address (localhost:5000 in its k0s.yaml) resolve.
    const alias = await Deno.readTextFile(
      join(dir, "files/etc/k0s/containerd.d/certs.d/localhost:5000/hosts.toml"),
    );
    assert.match(alias, /^server = "https:\/\/10\.0\.0\.5:5000"$/m);
    assert.doesNotMatch(alias, /override_path/);

    const sums = await tool("sha256sum", ["-c", "SHA256SUMS"], undefined, dir);
    assert.equal(sums.code, 0, sums.stdout + sums.stderr);
    assert.match(sums.stdout, /^k0s: OK$/m);
    assert.match(sums.stdout, /^install\.sh: OK$/m);
    assert.doesNotMatch(sums.stdout, /worker-token/);
    const lint = await tool("shellcheck", ["-s", "sh", join(dir, "install.sh")]);
    assert.equal(lint.code, 0, lint.stdout);
    const readme = await Deno.readTextFile(join(dir, "README.md"));
    assert.match(readme, /`worker-token` is a worker join token valid for 2h/);
    assert.match(readme, /sudo \.\/install\.sh/);

    // The bundle joins a worker: run its install.sh against a second root.
    const workerRoot = join(c.base, "worker");
    await Deno.mkdir(workerRoot);
    const tokenCopy = join(c.base, "token-seen-by-k0s");
    const run = await tool("sh", [join(dir, "install.sh"), "--timeout", "0"], {
      PATH: Deno.env.get("PATH")!,
      K0RDENTD_ROOT: workerRoot,
      FAKE_K0S_LOG: join(c.base, "worker-k0s.log"),
      FAKE_K0S_TOKEN_COPY: tokenCopy,
      // No kubelet here: point the health check at a port nobody listens on, then expect the
      // timeout message after the join itself succeeded.
      K0RDENTD_KUBELET_HEALTHZ: "http://127.0.0.1:9/healthz",
    });
    assert.match(run.stderr, /kubelet is not healthy after 0s/);
    assert.equal(await Deno.readTextFile(tokenCopy), "fake-token-worker-2h\n");
    assert.ok(
      (await Deno.stat(join(workerRoot, "etc/k0s/containerd.d/certs.d/quay.io/hosts.toml")))
        .isFile,
    );
    const workerCalls = (await Deno.readTextFile(join(c.base, "worker-k0s.log"))).split("\n");
    assert.ok(
      workerCalls.includes(`install worker --token-file ${workerRoot}/etc/k0s/worker-token`),
    );
  },
);

Deno.test("export-worker-artifacts --archive writes a 0600 tar.gz of worker-bundle/", async () => {
  await using c = await controller();
  const r = await c.cli("export-worker-artifacts", "--archive", "out/wb.tar.gz");
  assert.equal(r.code, 0, r.stderr);
  const archive = join(c.base, "out/wb.tar.gz");
  assert.equal(await mode(archive), 0o600);
  const list = await tool("tar", ["-tzvf", archive]);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^drwx------ .* worker-bundle\/$/m);
  assert.match(list.stdout, /^-rw------- .* worker-bundle\/worker-token$/m);
  assert.match(list.stdout, /^-rwxr-xr-x .* worker-bundle\/install\.sh$/m);
  const unpacked = join(c.base, "unpacked");
  await Deno.mkdir(unpacked);
  assert.equal((await tool("tar", ["-xzf", archive, "-C", unpacked])).code, 0);
  const sums = await tool(
    "sha256sum",
    ["-c", "SHA256SUMS"],
    undefined,
    join(unpacked, "worker-bundle"),
  );
  assert.equal(sums.code, 0, sums.stdout);
  // No staging directory is left beside the archive.
  const left = [];
  for await (const e of Deno.readDir(join(c.base, "out"))) left.push(e.name);
  assert.deepEqual(left, ["wb.tar.gz"]);
});

Deno.test("export-worker-artifacts off a controller bundles no token and says how to add one", async () => {
  await using c = await controller({ running: false });
  const r = await c.cli("export-worker-artifacts");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /not running as a controller here: the bundle holds no join token/);
  const dir = join(c.base, "worker-bundle");
  await assert.rejects(() => Deno.stat(join(dir, "worker-token")));
  const readme = await Deno.readTextFile(join(dir, "README.md"));
  assert.match(readme, /k0s token create --role=worker/);
  assert.ok(!(await c.k0sCalls()).some((l) => l.startsWith("token")));
  // Online build without --registry-address: no registry drop-ins.
  await assert.rejects(() => Deno.stat(join(dir, "files")));
});

Deno.test("export-worker-artifacts uses the embedded k0s of an air-gap build", async () => {
  await using c = await controller();
  const assets = join(c.base, "assets");
  await Deno.mkdir(assets);
  const k0s = await Deno.readFile(FAKE_K0S);
  const gz = gzipSync(k0s);
  await Deno.writeFile(join(assets, "k0s.gz"), gz);
  const hex = async (b: Uint8Array) =>
    Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource)))
      .map((x) => x.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(
    join(assets, "build-info.json"),
    JSON.stringify({
      flavor: "airgap",
      version: "9.9.9",
      k0sVersion: "v1.33.1+k0s.0",
      assets: [{
        name: "k0s",
        file: "k0s.gz",
        version: "v1.33.1+k0s.0",
        size: k0s.length,
        sha256: await hex(k0s),
        compressedSize: gz.length,
        compressedSha256: await hex(gz),
      }],
    }),
  );
  const r = await runCli(["export-worker-artifacts", "-o", "wb", "--output", "json"], {
    // The advertise address is given: the test must not depend on this host having a routable
    // IPv4 (its detection is unit-tested with pickNodeAddress).
    env: { ...c.env, K0RDENTD_ASSETS_DIR: assets, K0RDENTD_REGISTRY_ADVERTISE_ADDRESS: "10.0.0.5" },
    cwd: c.base,
  });
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.k0sVersion, "v1.33.1+k0s.0");
  assert.match(out.k0sSource, /embedded k0s/);
  // localhost:5000 (the default) is replaced by the advertised address for the workers.
  assert.equal(out.registry.address, "10.0.0.5:5000");
  assert.deepEqual(await Deno.readFile(join(c.base, "wb/k0s")), k0s);
  const script = await Deno.readTextFile(join(c.base, "wb/install.sh"));
  assert.match(script, /Generated by k0rdentd 9\.9\.9 for k0s v1\.33\.1\+k0s\.0/);
  // Air-gap drop-ins never fall back to the Internet.
  const quay = await Deno.readTextFile(
    join(c.base, "wb/files/etc/k0s/containerd.d/certs.d/quay.io/hosts.toml"),
  );
  assert.doesNotMatch(quay, /https:\/\/quay\.io/);
});

Deno.test("export-worker-artifacts --registry-address a,b: every hosts.toml lists both, in order", async () => {
  await using c = await controller();
  const r = await c.cli(
    "export-worker-artifacts",
    "-o",
    "wb",
    "--registry-address",
    "10.0.0.5:5000,10.0.0.6:5000",
  );
  assert.equal(r.code, 0, r.stderr);
  const certsD = join(c.base, "wb/files/etc/k0s/containerd.d/certs.d");
  const hosts = (text: string) => [...text.matchAll(/^\[host\."([^"]+)"\]$/gm)].map((m) => m[1]);
  const prefixed = ["10.0.0.5:5000", "10.0.0.6:5000"].map((a) =>
    `https://${a}/v2/k0rdent-enterprise`
  );
  assert.deepEqual(hosts(await Deno.readTextFile(join(certsD, "quay.io/hosts.toml"))), prefixed);
  for (const own of ["10.0.0.5:5000", "10.0.0.6:5000", "localhost:5000"]) {
    assert.deepEqual(
      hosts(await Deno.readTextFile(join(certsD, own, "hosts.toml"))),
      ["https://10.0.0.5:5000", "https://10.0.0.6:5000"],
      own,
    );
  }
  const readme = await Deno.readTextFile(join(c.base, "wb/README.md"));
  assert.match(readme, /registry at `10\.0\.0\.5:5000` \(then `10\.0\.0\.6:5000`, in this order/);
});

Deno.test("export-worker-artifacts --dry-run writes nothing and creates no token", async () => {
  await using c = await controller();
  const r = await c.cli(
    "--dry-run",
    "export-worker-artifacts",
    "--registry-address",
    "10.0.0.5:5000",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Dry run: would write a worker bundle to "\.\/worker-bundle"/);
  await assert.rejects(() => Deno.stat(join(c.base, "worker-bundle")));
  assert.ok(!(await c.k0sCalls()).some((l) => l.startsWith("token")));
});

Deno.test("export-worker-artifacts refuses bad input with one-line errors", async () => {
  await using c = await controller();
  await Deno.mkdir(join(c.base, "worker-bundle"));
  const existing = await c.cli("export-worker-artifacts");
  assert.equal(existing.code, 1);
  assert.match(existing.stderr, /"\.\/worker-bundle": it already exists \(use --overwrite\)/);
  const noStorage = await runCli(["export-worker-artifacts", "-o", "z", "--with-images"], {
    env: { ...c.env, K0RDENTD_REGISTRY_STORAGE: join(c.base, "no-registry") },
    cwd: c.base,
  });
  assert.equal(noStorage.code, 1);
  assert.match(noStorage.stderr, /Cannot bundle the k0s system images: no registry storage/);
  // --overwrite replaces an earlier bundle only, never some other directory given by mistake.
  await Deno.mkdir(join(c.base, "home"));
  await Deno.writeTextFile(join(c.base, "home/notes.txt"), "keep me\n");
  const notBundle = await c.cli("export-worker-artifacts", "-o", "home", "--overwrite");
  assert.equal(notBundle.code, 1);
  assert.match(notBundle.stderr, /Cannot replace "home": it is not a worker bundle/);
  assert.equal(await Deno.readTextFile(join(c.base, "home/notes.txt")), "keep me\n");
  // Refused before any join token was created.
  assert.ok(!(await c.k0sCalls()).some((l) => l.startsWith("token")));
  const again = await c.cli("export-worker-artifacts", "--overwrite");
  assert.equal(again.code, 0, again.stderr);

  const both = await c.cli("export-worker-artifacts", "-o", "x", "--archive", "x.tar.gz");
  assert.equal(both.code, 2);
  const expiry = await c.cli("export-worker-artifacts", "--expiry", "tomorrow");
  assert.equal(expiry.code, 2);
  assert.match(expiry.stderr, /Invalid --expiry "tomorrow"/);
  const binary = await c.cli("export-worker-artifacts", "-o", "y", "--k0s-binary", "/nope/k0s");
  assert.equal(binary.code, 1);
  assert.match(binary.stderr, /Cannot read k0s binary "\/nope\/k0s"/);
  for (const r of [existing, noStorage, notBundle, both, expiry, binary]) {
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
  await assert.rejects(() => Deno.stat(join(c.base, "y")));
});

Deno.test(
  await needsTools(
    "export-worker-artifacts --with-images bundles the system images for /var/lib/k0s/images",
    "skopeo",
  ),
  async () => {
    await using c = await controller();
    const storageDir = join(c.base, "registry");
    const storage = openDiskStorage(storageDir);
    const arch = ociArch();
    await storeManifest(storage, "k0rdent-enterprise/k0sproject/coredns", arch, "1.12.2");
    await storeIndex(storage, "k0rdent-enterprise/pause", "3.10");
    const env = {
      ...c.env,
      K0RDENTD_REGISTRY_STORAGE: storageDir,
      FAKE_K0S_IMAGES: "quay.io/k0sproject/coredns:1.12.2 registry.k8s.io/pause:3.10",
    };
    const r = await runCli(
      ["export-worker-artifacts", "--with-images", "--registry-address", "10.0.0.5:5000"],
      { env, cwd: c.base },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Bundled 2 k0s system image\(s\)/);
    const dir = join(c.base, "worker-bundle");
    const archive = join(dir, "images/k0s-system-images.tar");
    const copy = await tool("skopeo", [
      "copy",
      "-q",
      `oci-archive:${archive}:1.12.2`,
      `dir:${join(c.base, "coredns")}`,
    ]);
    assert.equal(copy.code, 0, copy.stderr);
    assert.match(
      await Deno.readTextFile(join(dir, "SHA256SUMS")),
      / {2}images\/k0s-system-images\.tar$/m,
    );
    assert.match(
      await Deno.readTextFile(join(dir, "install.sh")),
      /'images\/k0s-system-images\.tar' '\/var\/lib\/k0s\/images\/k0s-system-images\.tar' 0644/,
    );

    // A missing image is a one-line error naming it, and no bundle is left behind.
    const missing = await runCli(
      [
        "export-worker-artifacts",
        "-o",
        "wb2",
        "--with-images",
        "--registry-address",
        "10.0.0.5:5000",
      ],
      { env: { ...env, FAKE_K0S_IMAGES: "quay.io/k0sproject/kube-proxy:v1.32.8" }, cwd: c.base },
    );
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /registry storage lacks quay\.io\/k0sproject\/kube-proxy:v1\.32\.8/,
    );
    const left = [];
    for await (const e of Deno.readDir(c.base)) left.push(e.name);
    assert.ok(!left.some((n) => n.includes("wb2")), left.join(" "));
  },
);

Deno.test("export-worker-artifacts invalidates the worker token when the bundle cannot be written", async () => {
  await using c = await controller();
  c.env.FAKE_K0S_TOKEN_FORMAT = "k0s";
  // A file where the archive's parent directory must go: the write fails after the token exists.
  await Deno.writeTextFile(join(c.base, "blocker"), "");
  const r = await c.cli("export-worker-artifacts", "--archive", "blocker/wb.tar.gz");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Cannot write worker bundle "blocker\/wb.tar.gz"/);
  const tokenCalls = (await c.k0sCalls()).filter((l) => l.startsWith("token"));
  assert.equal(tokenCalls.length, 2, tokenCalls.join("\n"));
  assert.match(tokenCalls[0], /^token create --role=worker/);
  assert.match(tokenCalls[1], /^token invalidate [a-z0-9]{6}$/);
  assert.doesNotMatch(r.stderr + r.stdout, /H4sI/, "no token in the output");
});

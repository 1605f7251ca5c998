/**
 * End-to-end `install` tests: `main.ts install` runs as a subprocess under a
 * temp `K0RDENTD_ROOT` with fake k0s/helm/kubectl on PATH (tests/fakes), a
 * real HTTP server serving a fake k0s release. Air-gap installs: install_airgap_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeHost, FAKES_DIR, serveK0sRelease } from "./helpers/fake_host.ts";

/** Asserts `part` occurs in `text`, showing the text when not. */
function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

const VERSION = "v1.32.8+k0s.0";
const ARCH = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
const FAKE_K0S = await Deno.readFile(join(FAKES_DIR, "k0s"));
/** Root and busy ports are properties of the test machine, not of the install. */
const BASE = ["install", "--ignore-preflight-errors=root,ports", "--poll-interval", "20ms"];

async function online(host: FakeHost, url: string, extra: string[] = [], env = {}) {
  return await host.run([...BASE, "--k0s-download-url", url, ...extra], env);
}

Deno.test("install --dry-run writes no file and runs no mutating command", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const before = await host.files();
  const result = await online(host, release.url, ["--dry-run"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepStrictEqual(await host.files(), before);
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  assert.deepStrictEqual(release.requests, [], "dry-run must not download k0s");
  includes(result.stdout, "nothing was changed");
  includes(result.stdout, "install k0s v1.32.8+k0s.0 downloaded from");
  includes(result.stderr, "Would run");
  includes(result.stderr, "Would wait up to");
  // The chart is not installed yet: a dry run cannot know whether it runs a UI.
  assert.doesNotMatch(result.stderr, /runs no UI Service/);
  includes(result.stderr, "exposed once the k0rdent chart runs its UI Service");
  const json = await online(host, release.url, ["--dry-run", "--output", "json"]);
  assert.equal(json.code, 0, json.stderr);
  const summary = JSON.parse(json.stdout);
  assert.equal(summary.dryRun, true);
  assert.equal(summary.k0sVersion, VERSION, "the k0s version the plan would install");
});

Deno.test("install --dry-run without an init system plans everything, lists the finding and exits 1", async () => {
  await using host = await FakeHost.create();
  await Deno.remove(join(host.root, "run/systemd/system")); // a container: no systemd, no OpenRC
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const before = await host.files();
  const text = await online(host, release.url, ["--dry-run"]);
  assert.equal(text.code, 1, text.stderr);
  assert.deepStrictEqual(await host.files(), before);
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  // The whole plan, then the findings.
  includes(text.stdout, "install k0s v1.32.8+k0s.0 downloaded from");
  assert.match(text.stdout, /Would run \S*k0s install controller /);
  assert.match(text.stdout, /Would run \S*helm upgrade --install kcm /);
  assert.match(
    text.stdout,
    /\nPreflight findings: 1 \(the real run would stop at preflight: fix them, or pass --ignore-preflight-errors=init-system to go on anyway\)\n/,
  );
  assert.match(text.stdout, /^ {2}init-system: no init system k0s supports .* is running$/m);
  assert.doesNotMatch(text.stderr, /check\(s\) failed|Phase "preflight"/);
  const json = await online(host, release.url, ["--dry-run", "--output", "json"]);
  assert.equal(json.code, 1, json.stderr);
  const summary = JSON.parse(json.stdout);
  assert.deepStrictEqual(summary.preflightFindings.map((f: { check: string }) => f.check), [
    "init-system",
  ]);
  assert.ok(summary.phases.length > 1, "every phase planned");
  // Ignored, it is a warning and the plan exits 0.
  const ignored = await online(host, release.url, ["--dry-run", "--ignore-preflight-errors=all"]);
  assert.equal(ignored.code, 0, ignored.stderr);
  assert.doesNotMatch(ignored.stdout, /Preflight findings/);
  // Without --dry-run the install stops at preflight and changes nothing.
  const real = await online(host, release.url);
  assert.equal(real.code, 1);
  includes(real.stderr, "--ignore-preflight-errors=init-system");
  assert.deepStrictEqual(await host.mutatingCalls(), []);
});

Deno.test("install online: downloads k0s, writes config, starts k0s, installs k0rdent; rerun changes nothing", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const result = await online(host, release.url, ["--output", "json"], {
    FAKE_NODE_READY_AFTER: "3",
    FAKE_KCM_READY_AFTER: "3",
  });
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.deepStrictEqual(summary.k0sVersion, VERSION);
  assert.deepStrictEqual(summary.kubeconfig, "/var/lib/k0s/pki/admin.conf");

  const files = await host.files();
  assert.deepStrictEqual(await Deno.readFile(join(host.root, "usr/local/bin/k0s")), FAKE_K0S);
  assert.deepStrictEqual(files.get("usr/local/bin/k0s"), 0o755);
  assert.deepStrictEqual(files.get("etc/k0s/k0s.yaml"), 0o600);
  assert.deepStrictEqual(files.get("var/lib/k0rdentd/kcm-values.yaml"), 0o600);
  assert.ok(
    ![...files.keys()].some((f) => f.startsWith("etc/k0s/containerd.d")),
    "online: no mirrors",
  );

  assert.deepStrictEqual(await host.mutatingCalls(), [
    `k0s install controller --enable-worker --no-taints -c ${host.root}/etc/k0s/k0s.yaml`,
    "k0s start",
    `helm upgrade --install kcm oci://ghcr.io/k0rdent/kcm/charts/kcm --version 1.2.0 -n kcm-system --create-namespace -f ${host.root}/var/lib/k0rdentd/kcm-values.yaml --kubeconfig ${host.root}/var/lib/k0s/pki/admin.conf`,
    "kubectl apply --server-side -f -",
  ]);
  includes(await host.stdinLog(), "name: k0rdent-ui-nodeport");
  assert.deepStrictEqual(summary.ui, {
    urls: ["http://10.0.0.7:31443", "http://10.0.0.7/k0rdent-ui/"],
    user: "admin",
  });
  // Readiness was polled, not assumed.
  assert.ok(
    (await host.calls()).filter((c) => c === "kubectl get management kcm -o json").length >= 3,
  );

  await host.clearCalls();
  const requests = release.requests.length;
  const again = await online(host, release.url);
  assert.equal(again.code, 0, again.stderr);
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  assert.deepStrictEqual(release.requests.length, requests, "rerun must not download again");
  assert.deepStrictEqual(await host.files(), files);
  includes(again.stdout, "0 phase(s) run".replace("0", "1")); // preflight always runs
});

Deno.test("install online: a checksum mismatch installs nothing and names the phase", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S, { badChecksum: true });
  const result = await online(host, release.url);
  assert.deepStrictEqual(result.code, 1);
  includes(result.stderr, 'Phase "k0s-binary" (Install the k0s binary) failed');
  includes(result.stderr, "SHA-256 mismatch");
  assert.deepStrictEqual([...(await host.files()).keys()], []);
});

Deno.test("install: a live install lock refuses a second run; a stale one is taken over", async () => {
  await using host = await FakeHost.create();
  const lock = join(host.root, "var/lib/k0rdentd/install.lock");
  await Deno.mkdir(join(host.root, "var/lib/k0rdentd"), { recursive: true });
  await Deno.writeTextFile(lock, `${Deno.pid}\n`); // this test process: alive
  const args = [...BASE, "--k0s-binary", join(FAKES_DIR, "k0s")];
  const busy = await host.run(args);
  assert.equal(busy.code, 1, busy.stderr);
  includes(busy.stderr, `Another k0rdentd (pid ${Deno.pid}) is changing this host`);
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  assert.equal(await Deno.readTextFile(lock), `${Deno.pid}\n`, "a live lock is left alone");

  await Deno.writeTextFile(lock, "999999999\n"); // no such process
  const taken = await host.run(args);
  assert.equal(taken.code, 0, taken.stderr);
  includes(taken.stderr, "Removing stale lock");
  await assert.rejects(Deno.stat(lock), Deno.errors.NotFound, "released after the run");
});

Deno.test("install: a changed helm value patches the Management's kcm config, never helm upgrade", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  assert.deepStrictEqual((await online(host, release.url)).code, 0);
  await host.clearCalls();
  const config = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(config, "k0rdent:\n  helm:\n    values:\n      debug: true\n");
  const result = await online(host, release.url, ["-c", config]);
  assert.equal(result.code, 0, result.stderr);
  const mutating = await host.mutatingCalls();
  assert.deepStrictEqual(mutating.length, 1, mutating.join("\n"));
  // The values travel in a file (they may hold secrets), never on argv.
  assert.match(
    mutating[0],
    /^kubectl patch management kcm --type=merge --patch-file \/\S+\/patch\.json$/,
  );
  assert.deepStrictEqual(
    JSON.parse(await Deno.readTextFile(join(host.state, "mgmt-config.json"))),
    { debug: true },
  );
  includes(
    await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/kcm-values.yaml")),
    "debug: true",
  );
  // A value removed later is removed from the Management too (null in the merge patch).
  await Deno.writeTextFile(config, "k0rdent:\n  helm:\n    values:\n      other: 1\n");
  await host.clearCalls();
  assert.equal((await online(host, release.url, ["-c", config])).code, 0);
  includes(await host.stdinLog(), '{"spec":{"core":{"kcm":{"config":{"debug":null,"other":1}}}}}');
  assert.ok(!(await host.calls()).some((c) => c.startsWith("helm upgrade")));
});

Deno.test("install: a helm release name kcm 1.2 would not read stops at preflight; kcm 1.9 takes it", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const config = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(config, "k0rdent:\n  helm:\n    releaseName: k0rdent\n");
  // kcm 1.2 copies only release "kcm"'s values into its Management: the fake cluster never
  // becomes Ready under another name.
  const refused = await online(host, release.url, ["-c", config, "--k0rdent-timeout", "2s"]);
  assert.equal(refused.code, 1, refused.stderr);
  includes(refused.stderr, 'Preflight release-name: k0rdent.helm.releaseName "k0rdent"');
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  const newer = await online(host, release.url, ["-c", config, "--k0rdent-version", "1.9.0"]);
  assert.equal(newer.code, 0, newer.stderr);
  assert.ok((await host.calls()).some((c) => c.startsWith("helm upgrade --install k0rdent ")));
});

Deno.test("install: a changed k0s config restarts a running k0s", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  assert.deepStrictEqual((await online(host, release.url)).code, 0);
  await host.clearCalls();
  const config = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(config, "k0s:\n  api:\n    port: 7443\n");
  const result = await online(host, release.url, ["-c", config]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
});

Deno.test("install: an installed k0s of another version needs --replace-k0s, which stops it first", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  assert.equal((await online(host, release.url)).code, 0);
  const newer = "v1.33.1+k0s.0";
  const newerBinary = new TextEncoder().encode(
    new TextDecoder().decode(FAKE_K0S).replace(VERSION, newer),
  );
  await using newRelease = await serveK0sRelease(newer, ARCH, newerBinary);
  await host.clearCalls();

  const refused = await online(host, newRelease.url, ["--k0s-version", newer]);
  assert.equal(refused.code, 1);
  includes(refused.stderr, `k0s ${VERSION} is installed but ${newer} is wanted`);
  includes(refused.stderr, "--replace-k0s");
  assert.deepStrictEqual(await host.mutatingCalls(), []);

  const replaced = await online(host, newRelease.url, ["--k0s-version", newer, "--replace-k0s"]);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.deepStrictEqual(await host.mutatingCalls(), ["k0s stop", "k0s start"]);
  assert.deepStrictEqual(await Deno.readFile(join(host.root, "usr/local/bin/k0s")), newerBinary);
});

Deno.test("install --show-password prints the UI password; without it the password stays hidden", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const hidden = await online(host, release.url);
  assert.equal(hidden.code, 0, hidden.stderr);
  includes(hidden.stdout, "k0rdent UI: http://10.0.0.7:31443");
  assert.ok(!(hidden.stdout + hidden.stderr).includes("ui-password-3f9a"));
  const shown = await host.run(["expose-ui", "--show-password"]);
  assert.equal(shown.code, 0, shown.stderr);
  includes(shown.stdout, "password ui-password-3f9a");
  const rerun = await online(host, release.url, ["--show-password"]);
  assert.equal(rerun.code, 0, rerun.stderr);
  includes(rerun.stdout, "password ui-password-3f9a");
});

Deno.test("expose-ui --dry-run prints the planned apply (text and JSON) and changes nothing", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  assert.equal((await online(host, release.url)).code, 0);
  await Deno.remove(join(host.state, "ui-exposed")); // the NodePort Service was deleted
  await host.clearCalls();
  const before = await host.files();

  const text = await host.run(["expose-ui", "--dry-run"]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^Dry run: 1 change\(s\) planned, nothing was changed\n {2}Would run \S*k0s kubectl apply --server-side -f - \(Service k0rdent-ui-nodeport and Ingress\)\n$/,
  );
  const json = await host.run(["expose-ui", "--dry-run", "--output", "json"]);
  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout);
  assert.equal(plan.dryRun, true);
  assert.equal(plan.changes.length, 1);
  assert.match(
    plan.changes[0],
    /^run \S*k0s kubectl apply --server-side -f - \(Service k0rdent-ui-nodeport/,
  );
  assert.deepStrictEqual(await host.mutatingCalls(), []);
  assert.deepStrictEqual(await host.files(), before);

  // Exposed already: nothing to plan.
  assert.equal((await host.run(["expose-ui"])).code, 0);
  const again = await host.run(["expose-ui", "--dry-run"]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, "Dry run: nothing to change\n");
});

Deno.test("install online without helm on PATH downloads helm, verifies its .sha256sum and uses it", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  // A helm release tarball holding the fake helm, built with the real tar.
  const pack = join(host.dir, "pack");
  await Deno.mkdir(join(pack, `linux-${ARCH}`), { recursive: true });
  await Deno.copyFile(join(FAKES_DIR, "helm"), join(pack, `linux-${ARCH}`, "helm"));
  const tgzName = `helm-v0.0.1-test-linux-${ARCH}.tar.gz`;
  const tar = await new Deno.Command("tar", {
    args: ["-czf", join(host.dir, tgzName), "-C", pack, `linux-${ARCH}`],
  }).output();
  assert.equal(tar.code, 0);
  const tgz = await Deno.readFile(join(host.dir, tgzName));
  const digest = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", tgz)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    served.push(path);
    if (path === `/${tgzName}`) return new Response(tgz);
    if (path === `/${tgzName}.sha256sum`) return new Response(`${digest}  ${tgzName}\n`);
    return new Response("not found", { status: 404 });
  });
  // PATH without helm: only the fake kubectl (reached by the fake k0s) and the system dirs.
  const bin = join(host.dir, "bin");
  await Deno.mkdir(bin);
  await Deno.symlink(join(FAKES_DIR, "kubectl"), join(bin, "kubectl"));
  try {
    const result = await online(host, release.url, [
      "--helm-version",
      "v0.0.1-test",
      "--helm-download-url",
      `http://127.0.0.1:${server.addr.port}`,
    ], { PATH: `${bin}:/usr/bin:/bin` });
    assert.equal(result.code, 0, result.stderr);
    assert.deepStrictEqual(served, [`/${tgzName}.sha256sum`, `/${tgzName}`]);
    assert.equal((await host.files()).get("var/lib/k0rdentd/bin/helm"), 0o755);
    assert.ok((await host.mutatingCalls()).some((c) => c.startsWith("helm upgrade --install")));
  } finally {
    await server.shutdown();
  }
});

Deno.test("install online --registry-mirror: containerd pulls through the registry, upstream as fallback", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  const result = await online(host, release.url, [
    "--registry-mirror",
    "--registry-address",
    "10.0.0.5:5000",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const quay = await Deno.readTextFile(
    join(host.root, "etc/k0s/containerd.d/certs.d/quay.io/hosts.toml"),
  );
  includes(quay, 'server = "https://quay.io"');
  includes(quay, "https://10.0.0.5:5000/v2/k0rdent-enterprise");
  const k0sYaml = await Deno.readTextFile(join(host.root, "etc/k0s/k0s.yaml"));
  assert.ok(!k0sYaml.includes("repository:"), "online k0s images keep their registries");
  includes((await host.mutatingCalls()).join("\n"), "oci://ghcr.io/k0rdent/kcm/charts/kcm");
});

Deno.test("preflight ports: a busy port fails unless our own k0s holds it", async () => {
  await using host = await FakeHost.create();
  await using release = await serveK0sRelease(VERSION, ARCH, FAKE_K0S);
  using listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = listener.addr.port;
  const config = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(config, `k0s:\n  api:\n    port: ${port}\n`);
  const args = [
    "-c",
    config,
    "install",
    "--ignore-preflight-errors=root",
    "--poll-interval",
    "20ms",
  ];
  const busy = await host.run([...args, "--k0s-download-url", release.url]);
  assert.equal(busy.code, 1, busy.stderr);
  assert.match(
    busy.stderr,
    new RegExp(`Preflight ports: port\\(s\\) .*\\b${port}\\b.* already in use`),
  );
  includes(busy.stderr, 'Phase "preflight"');
  assert.deepStrictEqual([...(await host.files()).keys()], []);

  const ignored = await host.run([
    ...args,
    "--k0s-download-url",
    release.url,
    "--ignore-preflight-errors=root,ports",
  ]);
  assert.equal(ignored.code, 0, ignored.stderr);
  includes(ignored.stderr, "Preflight ports (ignored)");
  // Now the fake k0s runs: a busy port is taken to be its own.
  const rerun = await host.run([...args, "--k0s-download-url", release.url]);
  assert.equal(rerun.code, 0, rerun.stderr);
});

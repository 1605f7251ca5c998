/**
 * End-to-end air-gap `install` tests: `main.ts install --airgap` as a subprocess under a temp
 * `K0RDENTD_ROOT` with the fake k0s/helm/kubectl of tests/fakes, against the real registry
 * (tests/helpers/airgap_registry.ts: `--tls auto` certificates by openssl, charts stored as
 * `helm push` stores them). The fake helm pulls the chart it is asked for from that registry and
 * refuses values with a loopback address for pods, as the real cluster would fail on them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { layout } from "../src/registry/storage/layout.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { FakeHost, FAKES_DIR } from "./helpers/fake_host.ts";
import { needsTools } from "./helpers/tools.ts";
import {
  ADVERTISE_IP,
  airgapArgs,
  airgapEnv,
  serveAirgapRegistry,
} from "./helpers/airgap_registry.ts";

/** Asserts `part` occurs in `text`, showing the text when not. */
function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

const VERSION = "v1.32.8+k0s.0";
const FAKE_K0S = await Deno.readFile(join(FAKES_DIR, "k0s"));
/** Root and busy ports are properties of the test machine, not of the install. */
const BASE = [
  "install",
  "--ignore-preflight-errors=root,ports",
  "--poll-interval",
  "20ms",
  "--airgap",
];
const K0S = ["--k0s-binary", join(FAKES_DIR, "k0s")];
const CHART = "k0rdent-enterprise/charts/k0rdent-enterprise";

Deno.test(
  await needsTools(
    "install --airgap: TLS by default, the registry's newest k0rdent, pods get a routable address; rerun changes nothing",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.1.0", "1.2.3", "1.10.0-rc1"] });
    const args = [...BASE, ...K0S, ...airgapArgs(registry)];
    const env = airgapEnv(registry);
    const cluster = `${ADVERTISE_IP}:${registry.port}`;

    const before = await host.files();
    const dry = await host.run([...args, "--dry-run"], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepStrictEqual(await host.files(), before);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    includes(dry.stdout, `Using registry CA: ${registry.caFile}`);
    includes(dry.stdout, `Using k0rdent 1.2.3: the highest version of ${CHART}`);
    includes(dry.stdout, `write /etc/k0s/containerd.d/certs.d/${cluster}/hosts.toml`);

    const result = await host.run([...args, "--output", "json"], env);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.k0rdentVersion, "1.2.3");
    assert.ok(
      registry.requests.some((r) =>
        r.method === "GET" && r.path === `/v2/${CHART}/manifests/1.2.3`
      ),
      "helm pulled the chart",
    );
    assert.ok(
      registry.requests.some((r) => r.method === "GET" && r.path.startsWith(`/v2/${CHART}/blobs/`)),
      "helm fetched the chart's config and content",
    );

    // What pods and other nodes read names the advertised address, never loopback.
    const k0sYaml = await Deno.readTextFile(join(host.root, "etc/k0s/k0s.yaml"));
    includes(k0sYaml, `repository: ${cluster}/k0rdent-enterprise`);
    const values = await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/kcm-values.yaml"));
    includes(values, `templatesRepoURL: oci://${cluster}/k0rdent-enterprise/charts`);
    includes(values, `globalRegistry: ${cluster}/k0rdent-enterprise`);
    includes(values, "registryCertSecret: k0rdentd-registry-ca");
    // Child clusters download k0s from the registry's files listener (default port 5080).
    includes(values, `globalK0sURL: http://${ADVERTISE_IP}:5080/k0rdent-enterprise`);
    assert.doesNotMatch(values, /insecureRegistry|localhost|127\.0\.0\.1/);
    const ca = await Deno.readTextFile(registry.caFile!);
    includes(await host.stdinLog(), "name: k0rdentd-registry-ca");
    includes(await host.stdinLog(), ca.trim().split("\n")[1]);

    // helm on this host pulls at the local address with the CA; no plain HTTP anywhere.
    const helm = (await host.mutatingCalls()).find((c) => c.startsWith("helm upgrade"))!;
    includes(
      helm,
      `kcm oci://${registry.address}/${CHART} --version 1.2.3 -n kcm-system --create-namespace`,
    );
    includes(helm, `--ca-file ${registry.caFile}`);
    assert.ok(!helm.includes("--plain-http"), helm);

    // containerd: the advertised address and this host's own names for it, over HTTPS with the CA.
    const dropIns = "etc/k0s/containerd.d/certs.d";
    for (const name of [cluster, registry.address, `127.0.0.1:${registry.port}`]) {
      const hosts = await Deno.readTextFile(join(host.root, dropIns, name, "hosts.toml"));
      includes(hosts, `server = "https://${cluster}"`);
      includes(hosts, `ca = "/etc/k0s/containerd.d/certs.d/${cluster}/ca.crt"`);
    }
    const quay = await Deno.readTextFile(join(host.root, dropIns, "quay.io/hosts.toml"));
    includes(quay, `https://${cluster}/v2/k0rdent-enterprise`);
    assert.equal(await Deno.readTextFile(join(host.root, dropIns, cluster, "ca.crt")), ca);

    await host.clearCalls();
    const again = await host.run(args, env);
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "install --airgap: no chart in the registry, or an explicit version it lacks, fails before any change",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using empty = await serveAirgapRegistry();
    const none = await host.run([...BASE, ...K0S, ...airgapArgs(empty)], airgapEnv(empty));
    assert.equal(none.code, 1);
    includes(
      none.stderr,
      `Cannot pick the k0rdent version: the registry ${empty.address} holds no version of chart "${CHART}"`,
    );
    assert.doesNotMatch(none.stderr, /\n\s+at /);

    await using registry = await serveAirgapRegistry({ charts: ["1.1.0"] });
    const args = [...BASE, ...K0S, ...airgapArgs(registry), "--k0rdent-version", "1.2.0"];
    const result = await host.run(args, airgapEnv(registry));
    assert.equal(result.code, 1);
    includes(
      result.stderr,
      "Preflight k0rdent-version: k0rdent 1.2.0 is not in the registry, which holds 1.1.0",
    );
    includes(result.stderr, "--ignore-preflight-errors=k0rdent-version");
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.deepStrictEqual([...(await host.files()).keys()], []);

    // Told to ignore the check, helm (which pulls the chart) is what fails, as the real one would.
    const ignored = await host.run(
      [...args, "--ignore-preflight-errors=root,ports,k0rdent-version"],
      airgapEnv(registry),
    );
    assert.equal(ignored.code, 1);
    includes(ignored.stderr, 'Phase "k0rdent-helm"');
    includes(ignored.stderr, `failed to perform "FetchReference"`);
  },
);

Deno.test(
  await needsTools(
    "install --airgap: a chart whose content blob the registry lacks fails helm's pull, as helm 3.18 fails",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    // Helm fetches the manifest by tag, then its config and chart layer by digest (oras-go
    // oras.Copy); a registry that answers the manifest but not the layer fails the pull.
    const stored = await openDiskStorage(registry.storage).getManifest(CHART, "1.2.3");
    const layer = JSON.parse(new TextDecoder().decode(stored!.bytes)).layers[0].digest;
    await Deno.remove(join(registry.storage, layout.blob(layer)));
    const result = await host.run([...BASE, ...K0S, ...airgapArgs(registry)], airgapEnv(registry));
    assert.equal(result.code, 1, result.stderr);
    includes(result.stderr, 'Phase "k0rdent-helm"');
    includes(result.stderr, `failed to perform "Fetch" on source: ${layer}: not found`);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  },
);

Deno.test(
  await needsTools(
    "install --airgap-bundle-path: the version comes from the bundle; another explicit version is a named preflight error",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.1.0", "1.2.3"] });
    // A directory bundle: only the chart archive's name is read.
    const bundle = join(host.dir, "airgap-bundle-1.1.0");
    await Deno.mkdir(join(bundle, "charts"), { recursive: true });
    await Deno.writeFile(join(bundle, "charts/k0rdent-enterprise_1.1.0.tar"), new Uint8Array());
    const args = [...BASE, ...K0S, ...airgapArgs(registry)];
    const env = airgapEnv(registry);

    const picked = await host.run([...args, "--airgap-bundle-path", bundle, "--dry-run"], env);
    assert.equal(picked.code, 0, picked.stderr);
    includes(picked.stdout, `Using k0rdent 1.1.0 from bundle "${bundle}"`);
    includes(picked.stdout, "--version 1.1.0");

    const other = await host.run(
      [...args, "--airgap-bundle-path", bundle, "--k0rdent-version", "1.2.3", "--dry-run"],
      env,
    );
    assert.equal(other.code, 1);
    includes(
      other.stderr,
      `Preflight bundle-version: bundle "${bundle}" holds k0rdent 1.1.0, not 1.2.3 ` +
        "(set --k0rdent-version 1.1.0",
    );
    // A dry run plans on and lists the failed check after the plan, with how to go on.
    includes(other.stdout, "Preflight findings: 1 (the real run would stop at preflight: ");
    includes(other.stdout, "--ignore-preflight-errors=bundle-version");

    const missing = await host.run(
      [...args, "--airgap-bundle-path", join(host.dir, "nope.tar")],
      env,
    );
    assert.equal(missing.code, 1);
    includes(missing.stderr, `Cannot read bundle "${join(host.dir, "nope.tar")}"`);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "install --airgap: a loopback advertise address, or a plain-HTTP registry without opting in, is refused",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    const loopback = await host.run(
      [
        ...BASE,
        ...K0S,
        "--registry-address",
        registry.address,
        "--registry-advertise-address",
        "127.0.0.5",
      ],
      airgapEnv(registry),
    );
    assert.equal(loopback.code, 1);
    includes(
      loopback.stderr,
      'Invalid airgap.registry.advertiseAddress "127.0.0.5": pods and other nodes cannot reach a loopback address',
    );

    await using plain = await serveAirgapRegistry({ charts: ["1.2.3"], insecure: true });
    const https = await host.run([...BASE, ...K0S, ...airgapArgs(plain)], airgapEnv(plain));
    assert.equal(https.code, 1);
    includes(https.stderr, `Cannot pick the k0rdent version from the registry ${plain.address}`);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
    assert.deepStrictEqual([...(await host.files()).keys()], []);
  },
);

Deno.test(
  await needsTools(
    "install --airgap --registry-insecure: plain HTTP on opt-in only, with a warning",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"], insecure: true });
    const args = [...BASE, ...K0S, ...airgapArgs(registry), "--registry-insecure"];
    const result = await host.run(args, airgapEnv(registry));
    assert.equal(result.code, 0, result.stderr);
    includes(result.stderr, "k0rdent Enterprise does not support insecure registries");
    const cluster = `${ADVERTISE_IP}:${registry.port}`;
    const helm = (await host.mutatingCalls()).find((c) => c.startsWith("helm upgrade"))!;
    includes(helm, "--plain-http");
    const values = await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/kcm-values.yaml"));
    includes(values, "insecureRegistry: true");
    assert.ok(!values.includes("registryCertSecret"));
    const hosts = await Deno.readTextFile(
      join(host.root, "etc/k0s/containerd.d/certs.d", cluster, "hosts.toml"),
    );
    includes(hosts, `server = "http://${cluster}"`);
    assert.ok(!hosts.includes("ca ="));

    const both = await host.run([...args, "--registry-ca", "/x.crt"], airgapEnv(registry));
    assert.equal(both.code, 2);
    includes(both.stderr, "Use either --registry-ca or --registry-insecure, not both");
  },
);

Deno.test(
  await needsTools(
    "install --airgap --registry-ca: another registry's CA trusted by containerd, helm and k0rdent",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    const ca = join(host.dir, "ca.crt");
    await Deno.copyFile(registry.caFile!, ca);
    // The registry's storage is not shared here: only --registry-ca tells install the CA.
    const result = await host.run([
      ...BASE,
      ...K0S,
      "--registry-address",
      `127.0.0.1:${registry.port}`,
      "--registry-advertise-address",
      "registry.lan",
      "--registry-ca",
      ca,
    ]);
    assert.equal(result.code, 0, result.stderr);
    const helm = (await host.mutatingCalls()).find((c) => c.startsWith("helm upgrade"))!;
    includes(helm, `--ca-file ${ca}`);
    const values = await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/kcm-values.yaml"));
    includes(values, "registryCertSecret: k0rdentd-registry-ca");
    includes(values, `globalRegistry: registry.lan:${registry.port}/k0rdent-enterprise`);
    const certs = join(host.root, "etc/k0s/containerd.d/certs.d");
    const quay = await Deno.readTextFile(join(certs, "quay.io/hosts.toml"));
    includes(quay, `https://registry.lan:${registry.port}`);
    includes(quay, `ca = "/etc/k0s/containerd.d/certs.d/registry.lan:${registry.port}/ca.crt"`);
    assert.deepStrictEqual(
      await Deno.readTextFile(join(certs, `registry.lan:${registry.port}`, "ca.crt")),
      await Deno.readTextFile(ca),
    );

    // Without the CA, the registry's certificate is not trusted: a clear failure before any change.
    await using other = await FakeHost.create();
    const untrusted = await other.run([
      ...BASE,
      ...K0S,
      "--registry-address",
      `127.0.0.1:${registry.port}`,
      "--registry-advertise-address",
      "registry.lan",
    ]);
    assert.equal(untrusted.code, 1);
    includes(untrusted.stderr, "Cannot pick the k0rdent version from the registry");
    assert.deepStrictEqual([...(await other.files()).keys()], []);
  },
);

Deno.test(
  await needsTools(
    "install --airgap from the online build without --k0s-binary says to pass one",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    const result = await host.run([...BASE, ...airgapArgs(registry)], airgapEnv(registry));
    assert.deepStrictEqual(result.code, 1);
    includes(result.stderr, "install --airgap with the online build needs --k0s-binary PATH");
    assert.deepStrictEqual([...(await host.files()).keys()], []);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "air-gap build: install implies --airgap and extracts the embedded k0s (checked)",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    const assets = join(host.dir, "assets");
    await Deno.mkdir(assets);
    const gz = new Uint8Array(
      await new Response(
        new Blob([FAKE_K0S]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    await Deno.writeFile(join(assets, "k0s.gz"), gz);
    const hex = async (b: Uint8Array) =>
      Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", b as BufferSource)),
        (x) => x.toString(16).padStart(2, "0"),
      ).join("");
    const info = {
      flavor: "airgap",
      version: "0.0.0-test",
      k0sVersion: VERSION,
      assets: [{
        name: "k0s",
        file: "k0s.gz",
        version: VERSION,
        size: FAKE_K0S.length,
        sha256: await hex(FAKE_K0S),
        compressedSize: gz.length,
        compressedSha256: await hex(gz),
      }],
    };
    await Deno.writeTextFile(join(assets, "build-info.json"), JSON.stringify(info));
    const args = [...BASE.filter((a) => a !== "--airgap"), ...airgapArgs(registry)];
    const tmp = join(host.dir, "tmp");
    await Deno.mkdir(tmp);
    const env = { K0RDENTD_ASSETS_DIR: assets, TMPDIR: tmp, ...airgapEnv(registry) };

    const result = await host.run(args, env);
    assert.equal(result.code, 0, result.stderr);
    includes(result.stdout, "(air-gapped)");
    // The k0s-images preflight ran the embedded k0s from a temp copy, then removed it.
    const listed = (await host.calls()).find((c) => c.startsWith("k0s airgap list-images -c "));
    assert.ok(listed?.startsWith(`k0s airgap list-images -c ${tmp}/`), listed);
    assert.deepStrictEqual(await Array.fromAsync(Deno.readDir(tmp)), []);
    assert.deepStrictEqual(await Deno.readFile(join(host.root, "usr/local/bin/k0s")), FAKE_K0S);
    assert.ok((await host.files()).has("etc/k0s/containerd.d/cri-registry.toml"));

    // A corrupt embedded asset is refused and installs nothing.
    await using other = await FakeHost.create();
    info.assets[0].sha256 = "0".repeat(64);
    await Deno.writeTextFile(join(assets, "build-info.json"), JSON.stringify(info));
    // The k0s-images preflight extracts it first: the install stops before the host changes.
    const corrupt = await other.run(args, env);
    assert.equal(corrupt.code, 1);
    includes(corrupt.stderr, "Preflight k0s-images: Cannot extract embedded k0s");
    includes(corrupt.stderr, "SHA-256 mismatch");
    assert.deepStrictEqual([...(await other.files()).keys()], []);
    assert.deepStrictEqual(await Array.fromAsync(Deno.readDir(tmp)), []);
  },
);

Deno.test(
  await needsTools(
    "install --airgap with a registry that needs credentials: Secret, containerd drop-in 0600 and helm's registry config; the password stays off argv, logs and readable files",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    const password = "pw-7f3c1d9e-secret";
    await using registry = await serveAirgapRegistry({
      charts: ["1.2.3"],
      auth: { username: "robot", password },
    });
    const cluster = `${ADVERTISE_IP}:${registry.port}`;
    const args = [...BASE, ...K0S, ...airgapArgs(registry), "--registry-username", "robot"];

    // Without the password the registry refuses the version lookup: nothing changes.
    const none = await host.run(args, airgapEnv(registry));
    assert.equal(none.code, 1);
    includes(none.stderr, 'airgap.registry.username "robot" has no password');
    const wrong = await host.run(
      [...args, "--registry-password-stdin"],
      airgapEnv(registry),
      "nope\n",
    );
    assert.equal(wrong.code, 1);
    includes(wrong.stderr, "HTTP 401");
    assert.deepStrictEqual(await host.mutatingCalls(), []);

    const result = await host.run(
      [...args, "--registry-password-stdin"],
      airgapEnv(registry),
      `${password}\n`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      registry.requests.some((r) =>
        r.method === "GET" && r.path === `/v2/${CHART}/manifests/1.2.3` && r.status === 200
      ),
      "the fake helm pulled the chart with the credentials of its registry config",
    );
    const helm = (await host.mutatingCalls()).find((c) => c.startsWith("helm upgrade"))!;
    assert.match(helm, /--registry-config \S+\/config\.json/);
    const values = await Deno.readTextFile(join(host.root, "var/lib/k0rdentd/kcm-values.yaml"));
    includes(values, "registryCredsSecret: k0rdentd-registry-creds");
    const applied = await host.stdinLog();
    includes(applied, "name: k0rdentd-registry-creds");
    includes(applied, `password: ${password}`);

    const auth = join(host.root, "etc/k0s/containerd.d/registry-auth.toml");
    assert.equal((await Deno.stat(auth)).mode! & 0o777, 0o600);
    const toml = await Deno.readTextFile(auth);
    includes(toml, `[plugins."io.containerd.grpc.v1.cri".registry.configs."${cluster}".auth]`);
    includes(toml, `password = "${password}"`);

    // The password is nowhere else: not on any argv, not in the output, not in a file others read.
    assert.ok(!(await host.calls()).join("\n").includes(password), "password on argv");
    assert.ok(!(result.stdout + result.stderr).includes(password), "password in the output");
    for (const [file, mode] of await host.files()) {
      const text = await Deno.readTextFile(join(host.root, file)).catch(() => "");
      if (text.includes(password)) assert.equal(mode & 0o077, 0, `${file} holds the password`);
    }

    await host.clearCalls();
    const again = await host.run(
      [...args, "--registry-password-stdin"],
      airgapEnv(registry),
      `${password}\n`,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

Deno.test(
  await needsTools(
    "config validate --airgap shows the addresses, CA, k0rdent version and k0s URL install would use",
    "openssl",
    "curl",
  ),
  async () => {
    await using host = await FakeHost.create();
    await using registry = await serveAirgapRegistry({ charts: ["1.2.3"] });
    const env = {
      ...airgapEnv(registry),
      K0RDENTD_REGISTRY_ADDRESS: registry.address,
      K0RDENTD_REGISTRY_ADVERTISE_ADDRESS: ADVERTISE_IP,
    };
    const text = await host.run(["config", "validate", "--airgap"], env);
    assert.equal(text.code, 0, text.stderr);
    includes(
      text.stdout,
      `Air gap: registry ${registry.address} from this host, ${ADVERTISE_IP}:${registry.port} from pods and other nodes, HTTPS trusting ${registry.caFile}`,
    );
    includes(text.stdout, "k0rdent 1.2.3 (registry)");
    includes(text.stdout, `download k0s from http://${ADVERTISE_IP}:5080/k0rdent-enterprise`);
    const json = JSON.parse(
      (await host.run(["config", "validate", "--airgap", "--output", "json"], env)).stdout,
    );
    assert.equal(json.airgap.advertised, `${ADVERTISE_IP}:${registry.port}`);
    assert.equal(json.airgap.k0rdentVersionSource, "registry");

    const loopback = await host.run(["config", "validate", "--airgap"], {
      ...env,
      K0RDENTD_REGISTRY_ADVERTISE_ADDRESS: "localhost",
    });
    assert.equal(loopback.code, 1);
    includes(loopback.stdout, "cannot reach a loopback address");
    assert.deepStrictEqual(await host.mutatingCalls(), []);
  },
);

// The generated containerd drop-ins against a real containerd (Debian package, a private daemon
// on temp dirs) and our registry daemon on 127.0.0.1: images pushed with skopeo under the
// `k0rdent-enterprise/` prefix are pulled by their upstream names (quay.io, registry.k8s.io),
// by the registry's own address and by its `localhost:<port>` alias, through the CRI plugin
// (the kubelet's path: `config_path` from cri-registry.toml) and through `ctr --hosts-dir`.
// Over TLS with the `--tls auto` CA, and plain HTTP; negatives prove the CA is verified and
// that the prefix needs `override_path`. With a replica (`registry --sync-from`) listed after the
// first registry, pulls go on through it once the first is killed. Ignored visibly when not root
// or without containerd.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { packTar } from "modern-tar";
import {
  containerdMirrorFiles,
  type ContainerdMirrorOptions,
  CRI_REGISTRY_FILE,
  type GeneratedFile,
} from "../src/k0s/containerd_mirrors.ts";
import { HOST } from "../src/host/paths.ts";
import { hashBytes } from "../src/hash/sha.ts";
import { openK0sBinaryStore } from "../src/registry/storage/k0s_binaries.ts";
import type { SourceStatus } from "../src/registry/sync/sync_status.ts";
import {
  type Daemon,
  runRegistryCli,
  skopeo,
  startDaemon,
  tagLayout,
  writeImage,
} from "./registry_helpers.ts";
import { freePort } from "./helpers/free_port.ts";
import { type Containerd, requestURLs, startContainerd } from "./helpers/containerd_daemon.ts";
import { registryURLs } from "./helpers/containerd_resolver.ts";
import { CriError, criPullImage } from "./helpers/cri_client.ts";
import { needsContainerd } from "./helpers/tools.ts";

const PREFIX = "k0rdent-enterprise";
const K0S_NAME = "k0s-v1.32.8+k0s.0-amd64";
/** gRPC status NOT_FOUND. */
const NOT_FOUND = 5;

async function tempDir(prefix: string) {
  const path = await Deno.makeTempDir({ prefix });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Digests of an image pushed to the registry. */
interface Pushed {
  manifest: string;
  config: string;
  layer: string;
}

/**
 * Pushes a one-layer image whose only file names `local` (so every repository holds a
 * different image) to `<registry>/<local>` with skopeo.
 */
async function push(
  work: string,
  registry: string,
  local: string,
  tls: string[],
): Promise<Pushed> {
  const body = new TextEncoder().encode(`${local}\n`);
  const layer = await packTar([{ header: { name: "image-name", size: body.length }, body }]);
  const layout = join(work, "layouts", local.replaceAll(/[/:]/g, "_"));
  const image = await writeImage(layout, [layer]);
  await tagLayout(layout, "v", image);
  await skopeo(["copy", ...tls, `oci:${layout}:v`, `docker://${registry}/${local}`]);
  const manifest = JSON.parse(new TextDecoder().decode(image.bytes));
  return {
    manifest: image.digest,
    config: manifest.config.digest,
    layer: manifest.layers[0].digest,
  };
}

/**
 * The drop-ins for `dropInDir`, written there; checks first that they are the production
 * files (default directory) with only the directory changed.
 */
async function writeDropIns(
  options: Omit<ContainerdMirrorOptions, "dropInDir">,
  dropInDir: string,
): Promise<GeneratedFile[]> {
  const files = containerdMirrorFiles({ ...options, dropInDir });
  const production = containerdMirrorFiles(options);
  assert.deepEqual(
    files.map((f) => ({ ...f, content: f.content.replaceAll(dropInDir, HOST.containerdDropIns) })),
    production,
  );
  for (const file of files) {
    await Deno.mkdir(dirname(join(dropInDir, file.path)), { recursive: true });
    await Deno.writeTextFile(join(dropInDir, file.path), file.content);
  }
  return files;
}

/** `ctr images ls` as a map from reference to manifest digest. */
function listed(stdout: string): Map<string, string> {
  const rows = stdout.trim().split("\n").slice(1).map((line) => line.split(/\s+/));
  return new Map(rows.map(([ref, _type, digest]) => [ref, digest]));
}

/**
 * Starts the registry (`--tls auto` or plain HTTP) with the images, writes the drop-ins and
 * starts containerd on them; runs `fn`, then stops both.
 */
async function withSetup(
  mode: "tls" | "http",
  fn: (s: {
    work: string;
    address: string;
    certsD: string;
    files: GeneratedFile[];
    images: Map<string, Pushed>;
    ctrd: Containerd;
  }) => Promise<void>,
) {
  await using work = await tempDir(`containerd-real-${mode}-`);
  const storage = join(work.path, "storage");
  const registry = await startDaemon([
    "--host",
    "127.0.0.1",
    "--storage",
    storage,
    ...(mode === "tls" ? ["--tls", "auto"] : []),
  ]);
  let ctrd: Containerd | undefined;
  try {
    const address = `127.0.0.1:${registry.port}`;
    const caFile = join(storage, "tls", "ca.crt");
    let pushTls = ["--dest-tls-verify=false"];
    if (mode === "tls") {
      const certDir = join(work.path, "skopeo-certs");
      await Deno.mkdir(certDir);
      await Deno.copyFile(caFile, join(certDir, "ca.crt"));
      pushTls = ["--dest-cert-dir", certDir];
    }
    // The name a pod asks for -> where the bundle loader puts the image (one image each).
    const names: [string, string][] = [
      ["quay.io/k0sproject/pause:3.10", `${PREFIX}/k0sproject/pause:3.10`],
      ["registry.k8s.io/pause:3.10", `${PREFIX}/pause:3.10`],
      [`${address}/${PREFIX}/k0sproject/k0s:v1.32.8`, `${PREFIX}/k0sproject/k0s:v1.32.8`],
      [
        `localhost:${registry.port}/${PREFIX}/k0sproject/kube-proxy:v1.32.8`,
        `${PREFIX}/k0sproject/kube-proxy:v1.32.8`,
      ],
    ];
    const images = new Map(
      await Promise.all(
        names.map(async ([name, local]) =>
          [name, await push(work.path, address, local, pushTls)] as const
        ),
      ),
    );

    const dropInDir = join(work.path, "containerd.d");
    const files = await writeDropIns({
      k0sVersion: "v1.32.8+k0s.0",
      registry: { address, prefix: PREFIX, insecure: mode === "http" },
      mirrors: ["quay.io", "registry.k8s.io"],
      caPem: mode === "tls" ? await Deno.readTextFile(caFile) : "",
      upstreamFallback: false,
      aliases: [`localhost:${registry.port}`],
    }, dropInDir);
    const cri = files.find((f) => f.path === CRI_REGISTRY_FILE)!;
    const ctrdDir = join(work.path, "containerd");
    await Deno.mkdir(ctrdDir);
    ctrd = await startContainerd(ctrdDir, cri.content);
    await fn({
      work: work.path,
      address,
      certsD: join(dropInDir, "certs.d"),
      files,
      images,
      ctrd,
    });
  } finally {
    await ctrd?.stop();
    assert.equal(await registry.stop(), 0, registry.stderr());
  }
}

/**
 * Checks the registry requests of one pull of `name` against the model
 * (tests/helpers/containerd_resolver.ts): the first is the manifest URL the model puts first,
 * the layer is fetched from the URL the model gives for it, and nothing goes elsewhere.
 */
function assertRequests(urls: string[], files: GeneratedFile[], name: string, pushed: Pushed) {
  const manifest = registryURLs(files, name)[0];
  const base = manifest.slice(0, manifest.indexOf("/v2/"));
  assert.equal(urls[0], manifest, `${name}: first request`);
  assert.ok(urls.includes(registryURLs(files, name, "blobs", pushed.layer)[0]), urls.join("\n"));
  for (const url of urls) assert.ok(url.startsWith(`${base}/v2/`), `${name}: ${url}`);
}

/**
 * A CRI pull that waits (up to 30 s) while the CRI plugin still initializes: containerd logs
 * "successfully booted" before its CRI service has synced, and answers every CRI call with
 * "server is not initialized yet" until then (a loaded machine stretches that).
 */
async function criPullWhenReady(socket: string, image: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (true) {
    try {
      return await criPullImage(socket, image);
    } catch (err) {
      if (!/not initialized yet/.test(String(err)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Pulls every image through the CRI plugin and with ctr: each must arrive with the pushed
 * digests, and the requests must be the ones the model predicts.
 */
async function pullAll(
  ctrd: Containerd,
  certsD: string,
  files: GeneratedFile[],
  images: Map<string, Pushed>,
) {
  for (const [name, pushed] of images) {
    const from = ctrd.log().length;
    const ref = await criPullWhenReady(ctrd.socket, name).catch((err) => {
      throw new Error(`CRI pull of ${name} failed: ${err.message}`);
    });
    assert.equal(ref, pushed.config, `CRI image id of ${name}`);
    assertRequests(ctrd.requests(from), files, name, pushed);

    const pulled = await ctrd.ctr([
      "--debug",
      "images",
      "pull",
      "--hosts-dir",
      certsD,
      "--snapshotter",
      "native",
      name,
    ]);
    assert.equal(pulled.code, 0, `ctr pull ${name}: ${pulled.stderr}`);
    assertRequests(requestURLs(pulled.stderr), files, name, pushed);
  }
  for (const namespace of ["k8s.io", "default"]) {
    const ls = await ctrd.ctr(["--namespace", namespace, "images", "ls"]);
    assert.equal(ls.code, 0, ls.stderr);
    const refs = listed(ls.stdout);
    for (const [name, pushed] of images) {
      assert.equal(refs.get(name), pushed.manifest, `${namespace}: ${name}`);
    }
  }
}

/** Pull errors for `name` through the CRI plugin and ctr. */
async function pullErrors(
  ctrd: Containerd,
  certsD: string,
  name: string,
): Promise<{ cri: CriError; ctr: string }> {
  const cri = await criPullImage(ctrd.socket, name).then(
    () => assert.fail(`CRI pull of ${name} succeeded`),
    (err) => err,
  );
  assert.ok(cri instanceof CriError, String(cri));
  const pulled = await ctrd.ctr(["images", "pull", "--hosts-dir", certsD, name]);
  assert.notEqual(pulled.code, 0, `ctr pull of ${name} succeeded`);
  return { cri, ctr: pulled.stderr };
}

Deno.test({
  ...(await needsContainerd(
    "real containerd pulls through the generated hosts.toml over TLS with the generated CA",
  )),
  fn: () =>
    withSetup("tls", async ({ work, address, certsD, files, images, ctrd }) => {
      await pullAll(ctrd, certsD, files, images);

      // Another CA in ca.crt: the registry's certificate is refused.
      const ca = join(certsD, address, "ca.crt");
      const other = join(work, "other-ca");
      await Deno.mkdir(other);
      const made = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          join(other, "ca.key"),
          "-out",
          ca,
          "-days",
          "1",
          "-subj",
          "/CN=another CA",
        ],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(made.code, 0);
      for (const name of images.keys()) {
        const { cri, ctr } = await pullErrors(ctrd, certsD, name);
        assert.match(cri.message, /x509: certificate signed by unknown authority/, name);
        assert.match(ctr, /x509: certificate signed by unknown authority/, name);
      }

      // No ca.crt at all: containerd refuses to go on without the CA it was told to use.
      await Deno.remove(ca);
      const { cri, ctr } = await pullErrors(ctrd, certsD, "quay.io/k0sproject/pause:3.10");
      assert.match(cri.message, /unable to read CA cert/);
      assert.match(ctr, /unable to read CA cert/);
    }),
});

Deno.test({
  ...(await needsContainerd(
    "real containerd pulls through the generated hosts.toml over plain HTTP",
  )),
  fn: () =>
    withSetup("http", async ({ certsD, files, images, ctrd }) => {
      await pullAll(ctrd, certsD, files, images);

      // The same mirror without override_path: containerd appends /v2 to the host path and
      // asks for /v2/<prefix>/v2/..., a 404 (the model predicts the same URL).
      const name = "quay.io/k0sproject/pause:3.10";
      const broken = files.map((f) => ({
        ...f,
        content: f.content.replaceAll("override_path = true", "override_path = false"),
      }));
      const quay = "certs.d/quay.io/hosts.toml";
      assert.notEqual(
        broken.find((f) => f.path === quay)!.content,
        files.find((f) => f.path === quay)!.content,
      );
      await Deno.writeTextFile(
        join(certsD, "quay.io", "hosts.toml"),
        broken.find((f) => f.path === quay)!.content,
      );
      const from = ctrd.log().length;
      const { cri, ctr } = await pullErrors(ctrd, certsD, name);
      assert.equal(cri.code, NOT_FOUND, cri.message);
      assert.match(ctr, /not found/);
      const predicted = registryURLs(broken, name)[0];
      assert.match(predicted, /\/v2\/k0rdent-enterprise\/v2\/k0sproject\/pause\/manifests\/3\.10/);
      assert.equal(ctrd.requests(from)[0], predicted);
    }),
});

Deno.test({
  ...(await needsContainerd(
    "real containerd pulls through the replica when the first registry is down (hosts.toml lists both)",
  )),
  async fn() {
    await using work = await tempDir("containerd-real-replica-");
    const a = await startDaemon(["--host", "127.0.0.1", "--storage", join(work.path, "a")]);
    let b: Awaited<ReturnType<typeof startDaemon>> | undefined;
    let ctrd: Containerd | undefined;
    try {
      const first = `127.0.0.1:${a.port}`;
      const name = "quay.io/k0sproject/pause:3.10";
      const pushed = await push(work.path, first, `${PREFIX}/k0sproject/pause:3.10`, [
        "--dest-tls-verify=false",
      ]);
      const ownName = `${first}/${PREFIX}/k0sproject/pause:3.10`;
      b = await startDaemon([
        "--host",
        "127.0.0.1",
        "--storage",
        join(work.path, "b"),
        "--sync-from",
        `http://${first}`,
        "--sync-interval",
        "500ms",
      ]);
      const replica = `127.0.0.1:${b.port}`;
      const deadline = Date.now() + 60_000;
      while (true) {
        const res = await fetch(`http://${replica}/v2/${PREFIX}/k0sproject/pause/manifests/3.10`, {
          method: "HEAD",
          headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
        });
        await res.body?.cancel();
        if (res.headers.get("docker-content-digest") === pushed.manifest) break;
        if (Date.now() > deadline) throw new Error(`B did not replicate A: ${b.stderr()}`);
        await new Promise((r) => setTimeout(r, 200));
      }

      const dropInDir = join(work.path, "containerd.d");
      const files = await writeDropIns({
        k0sVersion: "v1.32.8+k0s.0",
        registry: { address: first, fallbacks: [replica], prefix: PREFIX, insecure: true },
        mirrors: ["quay.io"],
        caPem: "",
        upstreamFallback: false,
      }, dropInDir);
      // The model: A first, then B, for both names.
      for (const image of [name, ownName]) {
        const urls = registryURLs(files, image).map((u) => new URL(u).host);
        assert.deepEqual(urls.slice(0, 2), [first, replica], image);
      }
      const ctrdDir = join(work.path, "containerd");
      await Deno.mkdir(ctrdDir);
      ctrd = await startContainerd(
        ctrdDir,
        files.find((f) => f.path === CRI_REGISTRY_FILE)!.content,
      );

      assert.equal(await a.stop("SIGKILL"), 137);
      for (const image of [name, ownName]) {
        const from = ctrd.log().length;
        assert.equal(await criPullWhenReady(ctrd.socket, image), pushed.config, image);
        const hosts = ctrd.requests(from).map((u) => new URL(u).host);
        assert.ok(hosts.includes(replica), `${image}: ${hosts.join(" ")}`);
        const pulled = await ctrd.ctr([
          "--debug",
          "images",
          "pull",
          "--hosts-dir",
          join(dropInDir, "certs.d"),
          "--snapshotter",
          "native",
          image,
        ]);
        assert.equal(pulled.code, 0, `ctr pull ${image}: ${pulled.stderr}`);
      }
      const ls = await ctrd.ctr(["--namespace", "k8s.io", "images", "ls"]);
      assert.equal(listed(ls.stdout).get(name), pushed.manifest);
    } finally {
      await ctrd?.stop();
      await b?.stop();
      await a.stop();
    }
  },
});

/** Polls `registry status --output json` of `storage` until every source is in sync with `k0sFiles`. */
async function waitInSync(storage: string, daemon: Daemon, sources: number, k0sFiles: number) {
  const deadline = Date.now() + 90_000;
  let last = "";
  while (Date.now() < deadline) {
    const res = await runRegistryCli([
      "registry",
      "status",
      "--storage",
      storage,
      "--output",
      "json",
    ]);
    last = res.stdout;
    const status = res.code === 0 ? JSON.parse(res.stdout).replication : undefined;
    if (
      status?.sources.length === sources &&
      status.sources.every((s: SourceStatus) => s.state === "in sync" && s.k0sFiles === k0sFiles)
    ) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${storage} not in sync: ${last}\n${daemon.stderr()}`);
}

Deno.test({
  ...(await needsContainerd(
    "three registries (B and C replicate A, k0s binaries too): real containerd pulls with any one down, and with only the third up",
  )),
  async fn() {
    await using work = await tempDir("containerd-real-three-");
    // Each daemon's ports are picked when it first starts (B and C name only earlier ones).
    const ports = [0, 0, 0];
    const filesPorts = [0, 0, 0];
    const files = (i: number) => `http://127.0.0.1:${filesPorts[i]}/${PREFIX}`;
    const storages = ["a", "b", "c"].map((n) => join(work.path, n));
    const args = (i: number, sync: number[]) => [
      "--host",
      "127.0.0.1",
      "--storage",
      storages[i],
      "--files-port",
      String(filesPorts[i]),
      "--sync-interval",
      "500ms",
      ...sync.flatMap((s) => ["--sync-from", `http://127.0.0.1:${ports[s]}`]),
      // One host, so each daemon's files listener has a port of its own.
      ...sync.flatMap((s) => ["--sync-files-from", files(s)]),
    ];
    const syncs = [[], [0], [0, 1]];
    const daemons: (Daemon | undefined)[] = [undefined, undefined, undefined];
    /** Starts daemon `i`; its first start picks its ports, again when another test took one. */
    const start = async (i: number) => {
      const first = ports[i] === 0;
      for (let attempt = 1;; attempt++) {
        if (first) [ports[i], filesPorts[i]] = [freePort(), freePort()];
        try {
          daemons[i] = await startDaemon(args(i, syncs[i]), ports[i]);
          return;
        } catch (err) {
          if (!first || attempt === 3 || !/address already in use/.test(String(err))) throw err;
        }
      }
    };
    let ctrd: Containerd | undefined;
    try {
      await start(0);
      const a = `127.0.0.1:${ports[0]}`;
      // One image per round, so every round resolves and fetches again.
      const repos = ["pause:3.10", "coredns:1.12.0", "kube-proxy:v1.32.8", "metrics-server:v0.7.2"];
      const pushed = new Map<string, Pushed>();
      for (const repo of repos) {
        pushed.set(
          repo,
          await push(work.path, a, `${PREFIX}/k0sproject/${repo}`, [
            "--dest-tls-verify=false",
          ]),
        );
      }
      const k0s = new TextEncoder().encode("a k0s release binary\n".repeat(100_000));
      const sig = new TextEncoder().encode("MEUCIQ...signature\n");
      await (await openK0sBinaryStore(storages[0]).stage(K0S_NAME, new Blob([k0s]).stream()))
        .commit(sig);
      await start(1);
      await start(2);
      const addresses = ports.map((p) => `127.0.0.1:${p}`);
      await waitInSync(storages[1], daemons[1]!, 1, 1);
      await waitInSync(storages[2], daemons[2]!, 2, 1);
      // Every registry serves the k0s binary and its .sig byte-identical on its files listener.
      for (const i of [1, 2]) {
        for (const [name, bytes] of [[K0S_NAME, k0s], [`${K0S_NAME}.sig`, sig]] as const) {
          const res = await fetch(`${files(i)}/${name}`);
          assert.equal(res.status, 200, `${files(i)}/${name}`);
          assert.equal(hashBytes(new Uint8Array(await res.arrayBuffer())), hashBytes(bytes));
        }
      }

      const dropInDir = join(work.path, "containerd.d");
      const generated = await writeDropIns({
        k0sVersion: "v1.32.8+k0s.0",
        registry: {
          address: addresses[0],
          fallbacks: addresses.slice(1),
          prefix: PREFIX,
          insecure: true,
        },
        mirrors: ["quay.io"],
        caPem: "",
        upstreamFallback: false,
      }, dropInDir);
      const name = (repo: string) => `quay.io/k0sproject/${repo}`;
      assert.deepEqual(
        registryURLs(generated, name(repos[0])).map((u) => new URL(u).host).slice(0, 3),
        addresses,
        "hosts.toml lists A, B, C in order",
      );
      const ctrdDir = join(work.path, "containerd");
      await Deno.mkdir(ctrdDir);
      ctrd = await startContainerd(
        ctrdDir,
        generated.find((f) => f.path === CRI_REGISTRY_FILE)!.content,
      );
      // Rounds: each registry down in turn (then back), then only C up.
      const rounds: number[][] = [[0], [1], [2], [0, 1]];
      for (const [round, down] of rounds.entries()) {
        for (const i of down) assert.equal(await daemons[i]!.stop("SIGKILL"), 137);
        const repo = repos[round];
        const from = ctrd.log().length;
        assert.equal(
          await criPullWhenReady(ctrd.socket, name(repo)),
          pushed.get(repo)!.config,
          `${repo} with ${down.map((i) => "ABC"[i]).join("+")} down`,
        );
        const hosts = new Set(ctrd.requests(from).map((u) => new URL(u).host));
        const up = addresses.filter((_, i) => !down.includes(i));
        assert.ok(up.some((a) => hosts.has(a)), `${repo}: ${[...hosts].join(" ")}`);
        if (round === rounds.length - 1) assert.ok(hosts.has(addresses[2]), "C served");
        for (const i of down) await start(i);
      }
    } finally {
      await ctrd?.stop();
      for (const d of daemons) await d?.stop();
    }
  },
});

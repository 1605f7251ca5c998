/**
 * A fake host for install/uninstall/status tests: a temp `K0RDENTD_ROOT`,
 * the fake `k0s`, `helm` and `kubectl` from `tests/fakes/` first on PATH
 * (state, argv log and stdin log in a temp dir), and helpers to inject
 * failures and hangs and to list what changed. k0s, helm and kubectl are
 * the only fakes: they cannot run on a test machine.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliResult, runCli } from "./cli.ts";

/** The fake tools. */
export const FAKES_DIR = fileURLToPath(new URL("../fakes", import.meta.url));

/** Commands that change the host or the cluster, as the fakes log them. */
export const MUTATING =
  /^(k0s (install|start|stop|reset|token)|helm (upgrade|install|uninstall)|kubectl (apply|create|delete|patch))\b/;

/** A temp host with fake tools. */
export class FakeHost implements AsyncDisposable {
  private constructor(readonly dir: string) {}

  /** Creates the temp dirs; the root looks like a systemd host. */
  static async create(): Promise<FakeHost> {
    const dir = await Deno.makeTempDir({ prefix: "k0rdentd-install-" });
    const host = new FakeHost(dir);
    await Deno.mkdir(join(host.root, "run/systemd/system"), { recursive: true });
    await Deno.mkdir(host.state, { recursive: true });
    return host;
  }

  /** The `K0RDENTD_ROOT`. */
  get root(): string {
    return join(this.dir, "root");
  }

  /** The fakes' state dir. */
  get state(): string {
    return join(this.dir, "state");
  }

  /** Environment for the CLI subprocess. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      K0RDENTD_ROOT: this.root,
      FAKE_STATE: this.state,
      FAKE_TOOLS_DIR: FAKES_DIR,
      PATH: `${FAKES_DIR}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      ...extra,
    };
  }

  /** Runs `main.ts args...` against this host. */
  run(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliResult> {
    return runCli(args, { env: this.env(env), stdin });
  }

  /** Every fake-tool call so far ("tool args..."). */
  async calls(): Promise<string[]> {
    try {
      return (await Deno.readTextFile(join(this.state, "calls.log"))).split("\n").filter(Boolean);
    } catch {
      return [];
    }
  }

  /** The calls that change something. */
  async mutatingCalls(): Promise<string[]> {
    return (await this.calls()).filter((c) => MUTATING.test(c));
  }

  /** Forgets the recorded calls. */
  async clearCalls(): Promise<void> {
    await Deno.remove(join(this.state, "calls.log")).catch(() => {});
  }

  /** What the fakes read on stdin. */
  async stdinLog(): Promise<string> {
    return await Deno.readTextFile(join(this.state, "stdin.log")).catch(() => "");
  }

  /** Makes `step` (e.g. `k0s-start`) fail, or hang with `how = "hang"`; `null` clears. */
  async inject(step: string | null, how: "fail" | "hang" = "fail"): Promise<void> {
    for (const kind of ["fail", "hang"]) await Deno.remove(join(this.state, kind)).catch(() => {});
    if (step) await Deno.writeTextFile(join(this.state, how), step + "\n");
  }

  /** Files under the root, relative, with their modes. */
  async files(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const walk = async (dir: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = join(dir, entry.name);
        if (entry.isDirectory) await walk(path);
        else out.set(relative(this.root, path), (await Deno.lstat(path)).mode! & 0o777);
      }
    };
    await walk(this.root);
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Serves a fake k0s release (`<V>/k0s-<V>-<arch>` and `<V>/sha256sums.txt`) on 127.0.0.1. */
export async function serveK0sRelease(
  version: string,
  arch: string,
  binary: Uint8Array,
  options: { badChecksum?: boolean } = {},
): Promise<{ url: string; requests: string[] } & AsyncDisposable> {
  const digest = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", binary as BufferSource)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const file = `k0s-${version}-${arch}`;
  const sums = `${options.badChecksum ? "0".repeat(64) : digest}  ${file}\n${
    "1".repeat(64)
  }  other\n`;
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.push(path);
    if (path === `/${version}/sha256sums.txt`) return new Response(sums);
    if (path === `/${version}/${file}`) return new Response(binary as BodyInit);
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/**
 * The k0s system images the fake k0s of `version` lists (`airgap list-images` with a k0s.yaml
 * whose `spec.images.repository` is `<address>/<prefix>`), as `<path>:<tag>` after that repository.
 */
export async function fakeK0sImages(version = "v1.32.8+k0s.0"): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "fake-k0s-images-" });
  try {
    const repository = "registry.test:5000/prefix";
    const config = join(dir, "k0s.yaml");
    await Deno.writeTextFile(config, `spec:\n  images:\n    repository: ${repository}\n`);
    const out = await new Deno.Command(join(FAKES_DIR, "k0s"), {
      args: ["airgap", "list-images", "-c", config],
      env: { FAKE_STATE: join(dir, "state"), FAKE_TOOLS_DIR: FAKES_DIR, FAKE_K0S_VERSION: version },
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim().split("\n")
      .map((image) => image.slice(repository.length + 1));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What the fake k0s of `tests/fakes/k0s` (v1.32.8+k0s.0) lists: `k0sproject/kube-proxy:v1.32.8`... */
export const FAKE_K0S_IMAGES: readonly string[] = await fakeK0sImages();

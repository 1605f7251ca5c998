/**
 * A private containerd daemon for tests (the Debian package): its own root, state, socket and
 * config under a temp directory, the CRI plugin configured from our drop-in merged into a
 * base config the way k0s merges `containerd.d/*.toml` files that configure the CRI plugin
 * (k0s `pkg/component/worker/containerd/configurer.go`: "treating as merge patch").
 */
import { join } from "node:path";
import { parse, stringify } from "smol-toml";
import { deepMerge } from "../../src/config/merge.ts";

/** A running containerd. */
export interface Containerd {
  /** The gRPC socket (for `ctr --address` and CRI calls). */
  socket: string;
  /** Everything it logged so far. */
  log(): string;
  /** The registry request URLs it logged from character `from` of its log on. */
  requests(from: number): string[];
  /** Runs `ctr --address <socket> <args>`; never throws on a non-zero exit. */
  ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * The registry request URLs in a containerd or `ctr --debug` log, in order: the resolver
 * logs `msg="do request" ... url="<url>"` before each request (containerd
 * `remotes/docker/resolver.go`).
 */
export function requestURLs(log: string): string[] {
  return [...log.matchAll(/msg="do request".*? url="([^"]+)"/g)].map((m) => m[1]);
}

/**
 * Starts containerd in `dir` with `criDropIn` (the text of our `cri-registry.toml`) merged
 * into a base config that keeps everything under `dir` (the `opt` plugin's directory too) and
 * uses the native snapshotter (no overlayfs needed). Waits until it has booted.
 */
export async function startContainerd(dir: string, criDropIn: string): Promise<Containerd> {
  const base = {
    version: 2,
    plugins: {
      "io.containerd.internal.v1.opt": { path: join(dir, "opt") },
      // Each namespace fetches its own blobs: the CRI pull (k8s.io) and ctr's (default) are
      // then two independent downloads.
      "io.containerd.metadata.v1.bolt": { content_sharing_policy: "isolated" },
      "io.containerd.grpc.v1.cri": { containerd: { snapshotter: "native" } },
    },
  };
  const config = join(dir, "config.toml");
  await Deno.writeTextFile(config, stringify(deepMerge(base, parse(criDropIn))));
  const socket = join(dir, "containerd.sock");
  const child = new Deno.Command("containerd", {
    args: [
      "--root",
      join(dir, "root"),
      "--state",
      join(dir, "state"),
      "--address",
      socket,
      "--config",
      config,
      // Debug: the resolver logs every registry request ("do request", url=...).
      "--log-level",
      "debug",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5000);
      await status;
      clearTimeout(timer);
    }
    await pump;
  };
  const deadline = Date.now() + 15_000;
  while (!/containerd successfully booted/.test(text)) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not start:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    socket,
    log: () => text,
    requests: (from) => requestURLs(text.slice(from)),
    async ctr(args) {
      const out = await new Deno.Command("ctr", {
        args: ["--address", socket, ...args],
        stdin: "null",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    },
    stop,
  };
}

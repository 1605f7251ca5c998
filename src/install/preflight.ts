/**
 * Preflight checks, each with a name the user can pass to
 * `--ignore-preflight-errors` (as kubeadm does): root, Linux, CPU
 * architecture, init system, free ports, free disk, a helm release name kcm accepts, and in
 * air-gap mode the local registry, the k0s system images it must hold for the k0s to be
 * installed, the k0rdent chart version it holds, and the version of the bundle given as `airgap.bundlePath`
 * (`--airgap-bundle-path`).
 */
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { fetchErrorMessage, UsageError } from "../errors.ts";
import { bundleK0rdentVersionWithProgress } from "../bundle/reading/k0rdent_version.ts";
import { formatBytes } from "../log/progress.ts";
import { HOST } from "../host/paths.ts";
import type { InstallContext } from "./phase.ts";
import { registryAccess, registryTags, registryUrl } from "./registry_probe.ts";
import { registryEndpoint } from "../airgap_registry/endpoint.ts";
import { airgapChartRepository } from "../k0rdent/helm_command.ts";
import { checkK0sImages } from "./k0s_images.ts";
import { releaseNameProblem } from "../k0rdent/helm_values.ts";

/** One check; `run` returns null when fine, else what is wrong. */
export interface PreflightCheck {
  name: string;
  /** Only in air-gap mode. */
  airgapOnly?: boolean;
  run(ctx: InstallContext): Promise<string | null>;
}

/** Ports k0s needs on a controller+worker (the API port comes from config). */
export const K0S_PORTS = [2380, 8132, 9443, 10250];

/** Minimum free space under /var/lib for k0s, containerd and images. */
export const MIN_FREE_BYTES = 10 * 1024 ** 3;

/** Init systems k0s can install its service into, by a path that proves them. */
const INIT_SYSTEMS: readonly [string, string][] = [
  ["systemd", HOST.systemdRuntime],
  ["openrc", HOST.openrcRuntime],
];

/** Maps Deno's architecture names to k0s's. */
export function k0sArch(arch: string = Deno.build.arch): string | null {
  return ({ x86_64: "amd64", aarch64: "arm64" } as Record<string, string>)[arch] ?? null;
}

function portFree(port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: "0.0.0.0", port });
    listener.close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) return false;
    throw err;
  }
}

async function existingAncestor(path: string): Promise<string> {
  for (let p = path;; p = dirname(p)) {
    try {
      await Deno.stat(p);
      return p;
    } catch {
      if (dirname(p) === p) return p;
    }
  }
}

/** The checks, in order. */
export const PREFLIGHT_CHECKS: readonly PreflightCheck[] = [
  {
    name: "root",
    run: () => Promise.resolve(Deno.uid() === 0 ? null : "must run as root (use sudo)"),
  },
  {
    name: "os",
    run: () =>
      Promise.resolve(Deno.build.os === "linux" ? null : `k0s runs on Linux, not ${Deno.build.os}`),
  },
  {
    name: "arch",
    run: () =>
      Promise.resolve(
        k0sArch() ? null : `k0s has no build for CPU architecture "${Deno.build.arch}"`,
      ),
  },
  {
    name: "init-system",
    async run(ctx) {
      for (const [, proof] of INIT_SYSTEMS) {
        try {
          await Deno.stat(ctx.host.mapPath(proof));
          return null;
        } catch { /* try the next */ }
      }
      return `no init system k0s supports (${INIT_SYSTEMS.map(([n]) => n).join(", ")}) is running`;
    },
  },
  {
    name: "ports",
    async run(ctx) {
      const ports = [ctx.config.k0s.api.port, ...K0S_PORTS];
      const busy: number[] = [];
      for (const port of ports) if (!portFree(port)) busy.push(port);
      if (busy.length === 0) return null;
      if (await ctx.k0s.status()) return null; // held by our own k0s
      return `port(s) ${busy.join(", ")} already in use`;
    },
  },
  {
    name: "disk",
    async run(ctx) {
      const at = await existingAncestor(ctx.host.mapPath(HOST.varLib));
      const fs = await statfs(at);
      const free = Number(fs.bavail) * Number(fs.bsize);
      return free >= MIN_FREE_BYTES
        ? null
        : `only ${formatBytes(free)} free under ${HOST.varLib}, need ${
          formatBytes(MIN_FREE_BYTES)
        }`;
    },
  },
  {
    name: "release-name",
    run: (ctx) => {
      const { version, helm } = ctx.config.k0rdent;
      // Air gap installs the Enterprise chart (airgapChartRef); only its name matters here.
      const chart = ctx.options.airgap ? "k0rdent-enterprise" : helm.chart;
      return Promise.resolve(releaseNameProblem(chart, version, helm.releaseName));
    },
  },
  {
    name: "registry",
    airgapOnly: true,
    async run(ctx) {
      const url = registryUrl(ctx.config, "/v2/");
      const access = await registryAccess(ctx.config);
      try {
        const res = await access.fetch(url, { signal: AbortSignal.timeout(10_000) });
        await res.body?.cancel();
        if (res.status === 200) return null;
        if (res.status === 401) {
          return ctx.config.airgap.registry.username
            ? `registry "${url}" refused the credentials of airgap.registry.username "${ctx.config.airgap.registry.username}"`
            : null;
        }
        return `registry "${url}" answered HTTP ${res.status}`;
      } catch (err) {
        return `registry "${url}" does not answer: ${
          fetchErrorMessage(err)
        } (start it with "k0rdentd registry")`;
      } finally {
        access.close();
      }
    },
  },
  {
    // The k0s about to be installed lists its images for the generated k0s.yaml; all in the registry.
    name: "k0s-images",
    airgapOnly: true,
    run: checkK0sImages,
  },
  {
    name: "k0rdent-version",
    airgapOnly: true,
    async run(ctx) {
      const repository = airgapChartRepository(registryEndpoint(ctx.config));
      let tags: string[];
      try {
        tags = await registryTags(ctx.config, repository);
      } catch (err) {
        return `cannot list chart "${repository}": ${(err as Error).message}`;
      }
      const wanted = ctx.config.k0rdent.version.replaceAll("+", "_");
      if (tags.includes(wanted)) return null;
      if (tags.length === 0) return `the registry holds no chart "${repository}"`;
      return `k0rdent ${ctx.config.k0rdent.version} is not in the registry, which holds ${
        tags.join(", ")
      } (set --k0rdent-version ${tags[tags.length - 1].replaceAll("_", "+")})`;
    },
  },
  {
    // With the k0rdent-version check (config vs registry) this ties bundle, config and registry.
    name: "bundle-version",
    airgapOnly: true,
    async run(ctx) {
      const bundle = ctx.config.airgap.bundlePath;
      if (!bundle || ctx.facts.k0rdentVersionSource === "bundle") return null;
      const found = await bundleK0rdentVersionWithProgress(bundle, ctx);
      if (!found.tag) {
        return `bundle "${bundle}" holds no k0rdent chart (charts/k0rdent-enterprise_<version>.tar)`;
      }
      if (found.tag === ctx.config.k0rdent.version.replaceAll("+", "_")) return null;
      const version = found.tag.replaceAll("_", "+");
      return `bundle "${bundle}" holds k0rdent ${version}, not ${ctx.config.k0rdent.version} ` +
        `(set --k0rdent-version ${version}, or pass the bundle of ${ctx.config.k0rdent.version})`;
    },
  },
];

/** The names of all checks. */
export const PREFLIGHT_NAMES: readonly string[] = PREFLIGHT_CHECKS.map((c) => c.name);

/** Parses `--ignore-preflight-errors=a,b|all`; an unknown name is a usage error (not a no-op). */
export function parseIgnoreList(value: string | undefined): ReadonlySet<string> | "all" {
  const names = (value ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((n) => n !== "all" && !PREFLIGHT_NAMES.includes(n));
  if (unknown.length) {
    throw new UsageError(
      `Invalid --ignore-preflight-errors "${value}": unknown check(s) ${
        unknown.join(", ")
      } (expected ${PREFLIGHT_NAMES.join(",")} or all)`,
    );
  }
  return names.includes("all") ? "all" : new Set(names);
}

/**
 * The `k0s-images` preflight: the k0s about to be installed lists the system images it needs for
 * the generated k0s.yaml, and every one must be in the local registry before the host changes.
 *
 * What k0s does, checked in github.com/k0sproject/k0s at v1.32.8+k0s.0:
 * - `cmd/airgap/listimages.go`: `k0s airgap list-images [-c FILE] [--all]` prints one image a
 *   line. It needs neither root nor a running k0s, but while a k0s runs on the host it reads that
 *   k0s's config file instead of FILE (`pkg/config/cli.go` GetCmdOpts loads the runtime config
 *   `/run/k0s/k0s.yaml` first).
 * - `pkg/airgap/images.go`: the list holds calico's and kube-router's images whatever the network
 *   provider (up to 1.35; from 1.36 only the chosen provider's), coredns, konnectivity agent,
 *   kube-proxy, metrics-server and pause; `--all` adds pushgateway.
 * - `pkg/apis/k0s/v1beta1/images.go`: `spec.images.repository` replaces the registry host of each
 *   image, or comes before a name without one: `quay.io/k0sproject/kube-proxy:v1.32.8` becomes
 *   `<repository>/k0sproject/kube-proxy:v1.32.8`, `registry.k8s.io/pause:3.9` `<repository>/pause:3.9`.
 * - `pkg/constant/constant.go`: kube-proxy's tag is the Kubernetes version of the k0s release
 *   (`v1.32.8` in k0s v1.32.8+k0s.0, `v1.32.6` in v1.32.6+k0s.0).
 */
import { join } from "node:path";
import { parse } from "yaml";
import {
  type RegistryEndpoint,
  registryEndpoint,
  registryURL,
} from "../airgap_registry/endpoint.ts";
import { getPath } from "../config/merge.ts";
import { errorMessage, UserError } from "../errors.ts";
import { HOST } from "../host/paths.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { splitImageReference } from "../registry/names.ts";
import type { InstallContext } from "./phase.ts";
import { K0S_CONFIG_MODE, k0sYaml } from "./phases/k0s_config.ts";
import { withWantedK0s } from "./phases/k0s_binary.ts";
import { probeManifests, registryTags } from "./registry_probe.ts";

/** Where the local registry holds an image, as this host reaches it. */
export interface RegistryLocation {
  /** Repository in the registry, e.g. `k0rdent-enterprise/k0sproject/kube-proxy`. */
  repository: string;
  /** Tag or digest. */
  reference: string;
  /** The manifest URL on this host's registry endpoint. */
  url: string;
}

/**
 * Where this host finds the k0s image `image` in the local registry. k0s names it
 * `<k0sRepository>/<path>:<tag>`, `k0sRepository` being `spec.images.repository` of k0s.yaml (the
 * address the nodes pull from, then the prefix); the registry holds it at `<prefix>/<path>`, and
 * this host reaches the registry at `endpoint` (as {@link registryEndpoint} gives it: its own
 * configured address, which need not be the one in k0s.yaml). Null when the image is not under
 * `k0sRepository` or has neither tag nor digest: the local registry does not serve it.
 */
export function registryLocation(
  image: string,
  k0sRepository: string,
  endpoint: RegistryEndpoint,
): RegistryLocation | null {
  const base = k0sRepository.replace(/\/+$/, "");
  if (!base || !image.startsWith(`${base}/`)) return null;
  const ref = splitImageReference(image.slice(base.length + 1));
  const reference = ref?.digest ?? ref?.tag;
  if (!ref || !reference) return null;
  const repository = endpoint.prefix ? `${endpoint.prefix}/${ref.name}` : ref.name;
  return {
    repository,
    reference,
    url: `${registryURL(endpoint)}/v2/${repository}/manifests/${reference}`,
  };
}

/** What the check found, for {@link describeK0sImages}. */
export interface K0sImagesFindings {
  /** The k0s version that listed the images. */
  version: string;
  /** `spec.images.repository` of k0s.yaml. */
  repository: string;
  /** Images listed. */
  total: number;
  /** Images the registry answered 404 for, with the tags it holds of the same repository. */
  missing: { image: string; repository: string; otherTags: string[] }[];
  /** Images not under `repository`: the registry does not serve them. */
  outside: string[];
  /** Images the registry could not be asked about, and why. */
  unchecked: { image: string; error: string }[];
}

/** Kubernetes-version tags (`v1.32.6`), which kube-proxy's tag is. */
const KUBE_VERSION_TAG = /^v\d+\.\d+\.\d+$/;

/**
 * The k0s versions whose images the registry holds instead, told by kube-proxy's tag (it is the
 * Kubernetes version of the k0s release): `["v1.32.6"]` when kube-proxy `v1.32.8` is missing and
 * the registry holds `v1.32.6`.
 */
export function bundledK0sVersions(missing: K0sImagesFindings["missing"]): string[] {
  const kubeProxy = missing.find((m) => /(^|\/)kube-proxy$/.test(m.repository));
  return kubeProxy?.otherTags.filter((t) => KUBE_VERSION_TAG.test(t)) ?? [];
}

/** The preflight message for `findings`, or null when every image is in the registry. */
export function describeK0sImages(f: K0sImagesFindings): string | null {
  const parts: string[] = [];
  if (f.missing.length) {
    let text = `${f.missing.length} of ${f.total} k0s ${f.version} images are missing from ` +
      `the registry: ${f.missing.map((m) => m.image).join(", ")}`;
    const held = f.missing.flatMap((m) => m.otherTags.map((t) => `${m.repository}:${t}`));
    if (held.length) text += ` (it holds ${held.join(", ")})`;
    const versions = bundledK0sVersions(f.missing);
    if (versions.length) {
      const v = versions.join(" or ");
      text += `; the bundle carries the k0s images of k0s ${v}: install that k0s ` +
        `(--k0s-binary PATH to k0s ${v}+k0s.N, which Enterprise ships beside its bundle)`;
    }
    parts.push(text);
  }
  if (f.outside.length) {
    parts.push(
      `${f.outside.length} k0s ${f.version} image(s) are not under "${f.repository}", so the ` +
        `registry does not serve them: ${f.outside.join(", ")}`,
    );
  }
  if (f.unchecked.length) {
    const errors = [...new Set(f.unchecked.map((u) => u.error))];
    parts.push(
      errors.length === 1
        ? `cannot ask the registry for ${f.unchecked.length} image(s): ${errors[0]}`
        : `cannot ask the registry for ${
          f.unchecked.map((u) => `${u.image} (${u.error})`).join(", ")
        }`,
    );
  }
  return parts.length ? parts.join("; ") : null;
}

/** `spec.images.repository` of a k0s.yaml text, or undefined. */
function imagesRepository(yaml: string): string | undefined {
  try {
    const value = getPath(parse(yaml), ["spec", "images", "repository"]);
    return typeof value === "string" && value ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The repository of the k0s.yaml a running k0s uses (ours: `/etc/k0s/k0s.yaml`), which k0s
 * lists with instead of the file given; undefined when no k0s runs here.
 */
async function runningK0sRepository(ctx: InstallContext): Promise<string | undefined> {
  if (!await ctx.k0s.status()) return undefined;
  const text = await Deno.readTextFile(ctx.host.mapPath(HOST.k0sConfig)).catch(() => "");
  return imagesRepository(text);
}

/** `k0s airgap list-images -c <k0s.yaml in a private temp dir>` with `program`. */
async function listImages(
  ctx: InstallContext,
  program: string,
  version: string,
  yaml: string,
): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "k0rdentd-k0s-yaml-" }); // 0700
  try {
    const file = join(dir, "k0s.yaml");
    await Deno.writeTextFile(file, yaml, { mode: K0S_CONFIG_MODE });
    const k0s = new K0sCli({ runner: ctx.runner, host: ctx.host, program, signal: ctx.signal });
    return await k0s.listImages(file);
  } catch (err) {
    const hint = err instanceof Deno.errors.PermissionDenied
      ? " (a temp dir mounted noexec? set TMPDIR to another directory)"
      : "";
    throw new UserError(
      `Cannot list the images of k0s ${version} "${program}": ${errorMessage(err)}${hint}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The check: null when the registry holds every image the k0s to be installed lists. */
export async function checkK0sImages(ctx: InstallContext): Promise<string | null> {
  const yaml = k0sYaml(ctx);
  const repository = imagesRepository(yaml);
  if (!repository) return "the generated k0s.yaml sets no spec.images.repository";
  return await withWantedK0s(ctx, async (program, version) => {
    const images = await listImages(ctx, program, version, yaml);
    if (images.length === 0) return `k0s ${version} "${program}" listed no images`;
    const running = await runningK0sRepository(ctx);
    const repositories = running && running !== repository ? [repository, running] : [repository];
    const endpoint = registryEndpoint(ctx.config);
    const located = images.map((image) => ({
      image,
      at: repositories.map((r) => registryLocation(image, r, endpoint)).find(Boolean) ?? null,
    }));
    const served = located.flatMap(({ image, at }) => at ? [{ image, at }] : []);
    const probes = await probeManifests(ctx.config, served.map((s) => s.at.url), {
      signal: ctx.signal,
    });
    const findings: K0sImagesFindings = {
      version,
      repository,
      total: images.length,
      missing: [],
      outside: located.filter((l) => l.at === null).map((l) => l.image),
      unchecked: [],
    };
    for (const [i, probe] of probes.entries()) {
      const { image, at } = served[i];
      if ("error" in probe) findings.unchecked.push({ image, error: probe.error });
      else if (!probe.found) {
        const otherTags = await registryTags(ctx.config, at.repository).catch(() => []);
        findings.missing.push({ image, repository: at.repository, otherTags });
      }
    }
    return describeK0sImages(findings);
  });
}

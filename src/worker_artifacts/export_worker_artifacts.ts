/**
 * `export-worker-artifacts`: gathers what a worker needs (k0s binary, registry drop-ins and CA,
 * a join token when run on a controller, optionally the k0s system images) and writes the bundle.
 */
import { type BuildInfo, readBuildInfo } from "../assets/build_info.ts";
import { extractAsset } from "../assets/extract.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import { HostMutator } from "../host/mutator.ts";
import { HOST } from "../host/paths.ts";
import { containerdMirrorFiles, containerdMirrorOptions } from "../k0s/containerd_mirrors.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import { log } from "../log/logger.ts";
import { formatBytes } from "../log/progress.ts";
import { openDiskStorage } from "../registry/storage/storage.ts";
import { runChecked, type Runner } from "../process/runner.ts";
import { registryAliases } from "../join/node_address.ts";
import {
  clusterEndpoint,
  endpointAddresses,
  registryEndpoint,
  splitAddresses,
} from "../airgap_registry/endpoint.ts";
import { resolveRegistry } from "../airgap_registry/resolve.ts";
import { readRegistryCa } from "../airgap_registry/ca.ts";
import { createJoinToken, invalidateJoinTokens, isController } from "../join/token.ts";
import { storageLocation, writeImagesArchive } from "./system_images.ts";
import {
  type BundleContent,
  type BundleSummary,
  type BundleTarget,
  checkBundleTarget,
  writeBundle,
} from "./write_bundle.ts";

/** What the user asked for. */
export interface ExportWorkerOptions {
  target: BundleTarget;
  /** A k0s binary to bundle instead of the embedded or installed one. */
  k0sBinary?: string;
  /** Lifetime of the worker token created on a controller. */
  expiry: string;
  /** Registry address workers use; default the configured one with a local host replaced. */
  registryAddress?: string;
  /** Add the k0s system images from the registry storage (`images/`). */
  withImages: boolean;
}

/** What the export runs with. */
export interface ExportWorkerContext {
  config: Config;
  runner: Runner;
  dryRun: boolean;
  signal: AbortSignal;
}

/** What the bundle will hold (also the dry-run plan). */
export interface WorkerBundlePlan {
  path: string;
  k0sSource: string;
  k0sVersion: string;
  registry?: { address: string; insecure: boolean };
  token: boolean;
  images: boolean;
}

interface K0sSource {
  describe: string;
  version: string;
  write(target: string): Promise<void>;
}

async function k0sSource(
  options: ExportWorkerOptions,
  ctx: ExportWorkerContext,
  host: HostMutator,
  info: BuildInfo,
): Promise<K0sSource> {
  const copyFrom = async (path: string, what: string): Promise<K0sSource> => {
    try {
      if (!(await Deno.stat(path)).isFile) throw new Error("not a file");
    } catch (err) {
      throw new UserError(`Cannot read k0s binary "${path}": ${errorMessage(err)}`);
    }
    const out = await runChecked(ctx.runner, [path, "version"], {
      timeoutMs: 30_000,
      signal: ctx.signal,
    });
    return {
      describe: `${what} ${path}`,
      version: out.stdout.trim(),
      write: (target) => Deno.copyFile(path, target),
    };
  };
  if (options.k0sBinary) return await copyFrom(options.k0sBinary, "the file");
  if (info.flavor === "airgap") {
    const asset = info.assets.find((a) => a.name === "k0s");
    if (asset) {
      return {
        describe: `the embedded k0s ${asset.version}`,
        version: asset.version,
        write: async (target) => {
          await extractAsset("k0s", target, { info, signal: ctx.signal });
        },
      };
    }
  }
  const installed = host.mapPath(HOST.k0sBinary);
  try {
    await Deno.stat(installed);
  } catch {
    throw new UserError(
      `No k0s binary to bundle: this build embeds none and "${installed}" is missing (use --k0s-binary PATH)`,
    );
  }
  return await copyFrom(installed, "the installed k0s");
}

/** Throws a UserError unless `registry.storage` is a directory (checked before any token). */
async function checkRegistryStorage(ctx: ExportWorkerContext): Promise<void> {
  const dir = ctx.config.registry.storage;
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error("not a directory");
  } catch (err) {
    throw new UserError(
      `Cannot bundle the k0s system images: no registry storage at "${dir}" (${
        errorMessage(err)
      }; set registry.storage)`,
    );
  }
}

/** Writes the k0s system images listed by the bundled k0s, read from `registry.storage`. */
async function writeSystemImages(
  ctx: ExportWorkerContext,
  host: HostMutator,
  target: string,
  k0sPath: string,
): Promise<void> {
  const dir = ctx.config.registry.storage;
  const k0sYaml = host.mapPath(HOST.k0sConfig);
  const hasConfig = await Deno.stat(k0sYaml).then(() => true, () => false);
  const bundled = new K0sCli({
    runner: ctx.runner,
    host,
    program: k0sPath,
    signal: ctx.signal,
  });
  const refs = await bundled.listImages(hasConfig ? k0sYaml : undefined);
  const { address, prefix } = registryEndpoint(ctx.config);
  const images = refs.map((ref) => storageLocation(ref, { address, prefix }));
  const summary = await writeImagesArchive(openDiskStorage(dir), images, target);
  log.info(
    `Bundled ${summary.images} k0s system image(s): ${summary.blobs} blobs, ${
      formatBytes(summary.bytes)
    }`,
  );
}

/**
 * Builds the worker bundle described by `options`. Under dry-run it only returns the plan:
 * no token is created and nothing is written.
 */
export async function exportWorkerArtifacts(
  ctx: ExportWorkerContext,
  options: ExportWorkerOptions,
): Promise<{ plan: WorkerBundlePlan; summary?: BundleSummary }> {
  const info = await readBuildInfo();
  const host = new HostMutator(ctx.runner, ctx.dryRun);
  const k0s = await k0sSource(options, ctx, host, info);
  const airgap = info.flavor === "airgap" || options.registryAddress !== undefined;
  // The registry as workers reach it: --registry-address, else the cluster's address for it
  // (the advertise address: never loopback), with the CA install would use.
  const given = ctx.config.airgap.registry;
  const resolved = airgap
    ? (await resolveRegistry({
      ...ctx.config,
      airgap: {
        ...ctx.config.airgap,
        registry: { ...given, advertiseAddress: options.registryAddress ?? given.advertiseAddress },
      },
    })).config
    : ctx.config;
  // With replicas, every address in order (the first is the one images are named after).
  const cluster = clusterEndpoint(resolved).address;
  const address = options.registryAddress
    ? splitAddresses(options.registryAddress).join(",")
    : endpointAddresses(clusterEndpoint(resolved)).join(",");
  const [first] = splitAddresses(address);
  const config: Config = {
    ...resolved,
    k0s: { ...resolved.k0s, version: k0s.version },
    airgap: {
      ...resolved.airgap,
      registry: { ...resolved.airgap.registry, address, advertiseAddress: address },
    },
  };
  // The cluster names images after its address for the registry (k0s.yaml; localhost:<port>
  // on clusters installed before the advertise address): on a worker those names lead to it too.
  const dropIns = airgap
    ? containerdMirrorFiles({
      ...containerdMirrorOptions(config, {
        caPem: await readRegistryCa(config),
        upstreamFallback: info.flavor !== "airgap",
      }),
      aliases: [...registryAliases(first), ...(cluster === first ? [] : [cluster])],
    })
    : [];

  const cli = new K0sCli({
    runner: ctx.runner,
    host,
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  const onController = isController(await cli.status());
  if (!onController) {
    log.warn(
      "k0s is not running as a controller here: the bundle holds no join token (README.md says how to add one)",
    );
  }
  const path = "dir" in options.target ? options.target.dir : options.target.archive;
  const plan: WorkerBundlePlan = {
    path,
    k0sSource: k0s.describe,
    k0sVersion: k0s.version,
    registry: airgap ? { address, insecure: config.airgap.registry.insecure } : undefined,
    token: onController,
    images: options.withImages,
  };
  if (ctx.dryRun) return { plan };

  // Refuse before a join token is created: a failure after it would leave a live token behind.
  await checkBundleTarget(options.target);
  if (options.withImages) await checkRegistryStorage(ctx);
  const token = onController
    ? { value: await createJoinToken(cli, "worker", options.expiry), expiry: options.expiry }
    : undefined;
  const content: BundleContent = {
    k0sVersion: k0s.version,
    generator: info.version,
    writeK0s: k0s.write,
    dropIns,
    registry: plan.registry,
    token,
    writeImages: options.withImages
      ? (target, k0sPath) => writeSystemImages(ctx, host, target, k0sPath)
      : undefined,
  };
  try {
    return { plan, summary: await writeBundle(options.target, content) };
  } catch (err) {
    // The bundle was not written: the token it would have carried must not stay valid.
    if (token) await invalidateJoinTokens(cli, [{ role: "worker", token: token.value }]);
    throw err;
  }
}

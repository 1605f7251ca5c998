/**
 * `export-join-config`: on a running controller, creates a controller and a worker join token
 * and writes `controller-join.yaml` and `worker-join.yaml` (plus the registry CA for a TLS
 * registry) into a private directory (0700, files 0600); on failure the tokens it made are
 * invalidated.
 */
import { join } from "node:path";
import { readBuildInfo } from "../assets/build_info.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { HostMutator } from "../host/mutator.ts";
import { K0sCli } from "../k0s/k0s_cli.ts";
import type { Runner } from "../process/runner.ts";
import { JOIN_CA_FILE, joinConfigFile, renderJoinConfig } from "./join_config.ts";
import { clusterEndpoint, endpointAddresses } from "../airgap_registry/endpoint.ts";
import { resolveRegistry } from "../airgap_registry/resolve.ts";
import { readRegistryCa } from "../airgap_registry/ca.ts";
import {
  type CreatedToken,
  createJoinToken,
  invalidateJoinTokens,
  isController,
  type JoinRole,
} from "./token.ts";
import { pathExists } from "../fsx/exists.ts";

/** What the user asked for. */
export interface ExportJoinOptions {
  dir: string;
  /** The address new nodes reach this controller at. */
  controllerIp: string;
  expiry: string;
  /** Registry port; set (or an air-gap build) adds the registry to the files. */
  registryPort?: number;
  overwrite: boolean;
}

/** What the export runs with. */
export interface ExportJoinContext {
  config: Config;
  runner: Runner;
  dryRun: boolean;
  signal: AbortSignal;
}

/** What was (or would be) written. */
export interface ExportJoinResult {
  dir: string;
  files: string[];
  server: string;
  registry?: string;
  /** Under dry-run: the planned changes, one line each. */
  changes?: string[];
}

const ROLES: readonly JoinRole[] = ["controller", "worker"];

/** Creates the tokens and writes the join files; under dry-run only reports what it would write. */
export async function exportJoinConfig(
  ctx: ExportJoinContext,
  options: ExportJoinOptions,
): Promise<ExportJoinResult> {
  const { config } = ctx;
  const info = await readBuildInfo();
  const host = new HostMutator(ctx.runner, ctx.dryRun);
  const k0s = new K0sCli({
    runner: ctx.runner,
    host,
    timeoutMs: 60_000,
    signal: ctx.signal,
  });
  const status = await k0s.status();
  if (!isController(status)) {
    throw new UserError(
      "Cannot create join tokens: k0s is not running as a controller on this host (run export-join-config on a controller)",
    );
  }
  const airgap = info.flavor === "airgap" || options.registryPort !== undefined;
  // The registry as joining nodes reach it: the cluster's address for it (never loopback; a
  // loopback airgap.registry.address becomes the controller's IP), or --registry-port on it.
  const resolved = airgap
    ? (await resolveRegistry(ctx.config, { nodeAddress: () => options.controllerIp })).config
    : ctx.config;
  const { insecure, caFile, prefix } = resolved.airgap.registry;
  const withCa = airgap && !insecure && caFile !== "";
  const files = [...ROLES.map(joinConfigFile), ...(withCa ? [JOIN_CA_FILE] : [])];
  if (!options.overwrite) {
    for (const f of files) {
      if (await pathExists(join(options.dir, f))) {
        throw new UserError(
          `Cannot write "${join(options.dir, f)}": it already exists (use --overwrite)`,
        );
      }
    }
  }
  const server = `https://${options.controllerIp}:${config.k0s.api.port}`;
  const registry = !airgap
    ? undefined
    : options.registryPort !== undefined
    ? `${options.controllerIp}:${options.registryPort}`
    : endpointAddresses(clusterEndpoint(resolved)).join(",");
  const result: ExportJoinResult = { dir: options.dir, files, server, registry };
  if (ctx.dryRun) {
    // The plan, recorded by the dry-run mutator: nothing runs, nothing is written.
    for (const role of ROLES) await k0s.createToken(role, options.expiry);
    const nothing = () => Promise.resolve();
    if (!await pathExists(options.dir)) {
      await host.wet(`create directory ${options.dir} (mode 0700)`, nothing);
    }
    for (const f of files) await host.wet(`write ${join(options.dir, f)} (mode 0600)`, nothing);
    return { ...result, changes: host.changes };
  }

  const caPem = withCa ? await readRegistryCa(resolved) : "";
  const k0sVersion = status!.version || config.k0s.version;
  const created = new Date().toISOString();
  // Every failure from here on invalidates the tokens made so far and removes the files written
  // so far: no live token is left behind that nobody holds, no file with a dead one.
  const tokens: CreatedToken[] = [];
  const written: string[] = [];
  let dirCreated = false;
  try {
    for (const role of ROLES) {
      tokens.push({ role, token: await createJoinToken(k0s, role, options.expiry) });
    }
    const rendered: [string, string][] = tokens.map(({ role, token }) => [
      joinConfigFile(role),
      renderJoinConfig({
        role,
        k0sVersion,
        k0s: config.k0s,
        server,
        token,
        expiry: options.expiry,
        registry: registry ? { address: registry, prefix, insecure, ca: withCa } : undefined,
        created,
      }),
    ]);
    if (withCa) rendered.push([JOIN_CA_FILE, caPem]);
    try {
      if (!await pathExists(options.dir)) {
        await Deno.mkdir(options.dir, { recursive: true, mode: 0o700 });
        dirCreated = true;
        await Deno.chmod(options.dir, 0o700);
      }
      for (const [name, text] of rendered) {
        const path = join(options.dir, name);
        await writeFileAtomic(path, text, { mode: 0o600 });
        written.push(path);
      }
    } catch (err) {
      throw new UserError(`Cannot write join config to "${options.dir}": ${errorMessage(err)}`);
    }
  } catch (err) {
    for (const path of written) await Deno.remove(path).catch(() => {});
    if (dirCreated) await Deno.remove(options.dir).catch(() => {});
    await invalidateJoinTokens(k0s, tokens);
    throw err;
  }
  return result;
}

/**
 * Join phase of an air-gap controller with `join.registryReplica` (`--registry-replica`): runs a
 * registry replica on the new controller, `k0rdentd registry --sync-from <each address of
 * airgap.registry.address>` as the systemd unit `k0rdentd-registry` (the unit
 * `registry --print-systemd-unit` prints for the first controller), so the images and k0s
 * binaries are also served here when the other registries are down.
 */
import { errorMessage, UserError } from "../../errors.ts";
import { readRegistryCa } from "../../airgap_registry/ca.ts";
import { HOST } from "../../host/paths.ts";
import type { InstallContext, Phase } from "../../install/phase.ts";
import { endpointAddresses, registryEndpoint } from "../../airgap_registry/endpoint.ts";
import type { ServeOptions } from "../../registry/server.ts";
import { serveOptions, systemdUnit, unitBinary } from "../../registry/systemd_unit.ts";
import { isLocalHost, splitHostPort, withoutOwnAddresses } from "../node_address.ts";
import { othersCanAccess } from "../../fsx/file_mode.ts";
import { pathExists } from "../../fsx/exists.ts";
import { saveState } from "../../install/state.ts";
import { join } from "node:path";

/** The unit's name for systemctl. */
export const REGISTRY_UNIT = "k0rdentd-registry.service";

/** What the replica needs beside its unit: files to install, and the serve options. */
interface ReplicaPlan {
  options: ServeOptions;
  /** Host path → content and mode, written before the unit. */
  files: { path: string; data: string | Uint8Array; mode: number }[];
}

/**
 * The replica of this node: the registry of `config.registry` (the defaults in a join file),
 * replicating every address of `airgap.registry.address` in order, over the same scheme, CA and
 * pull credentials the node's containerd uses. A TLS registry (`--tls auto`) gets the cluster
 * registry's CA (certificate and key) under `<storage>/tls/`, so its own certificate chains to the
 * CA every node's `hosts.toml` already trusts.
 */
async function replicaPlan(ctx: InstallContext): Promise<ReplicaPlan> {
  const endpoint = registryEndpoint(ctx.config);
  // This node's own address at the replica's port is in the list once the operator adds it to
  // every node's addresses (docs/multi-node.md): a replica does not replicate itself.
  const addresses = withoutOwnAddresses(
    endpointAddresses(endpoint).filter(Boolean),
    ctx.config.registry.port,
    Deno.networkInterfaces(),
  );
  if (addresses.length === 0) {
    throw new UserError(
      "The registry replica needs the cluster's registries: set --registry-address (airgap.registry.address)",
    );
  }
  const own = addresses.find((a) => {
    const { host, port } = splitHostPort(a);
    return isLocalHost(host) && port === ctx.config.registry.port;
  });
  if (own) {
    throw new UserError(
      `Cannot run a registry replica of "${own}": that is the replica's own address (this host, port ${ctx.config.registry.port}); give the other controllers' registries`,
    );
  }
  const base = serveOptions(ctx.config);
  const files: ReplicaPlan["files"] = [];
  const { caFile, username, password } = ctx.config.airgap.registry;
  let tls = base.tls;
  if (endpoint.insecure) {
    tls = { ...tls, mode: "off" };
  } else if (tls.mode === "auto") {
    if (!caFile) {
      throw new UserError(
        "The registry replica serves a certificate of the cluster registry's CA: set --registry-ca (airgap.registry.caFile)",
      );
    }
    let key: Uint8Array;
    let keyMode: number | null;
    try {
      const keyPath = ctx.host.mapPath(HOST.joinRegistryCaKey);
      keyMode = (await Deno.stat(keyPath)).mode;
      key = await Deno.readFile(keyPath);
    } catch (err) {
      throw new UserError(
        `The registry replica needs the cluster registry's CA key "${HOST.joinRegistryCaKey}": ${
          errorMessage(err)
        } (copy <registry.storage>/tls/ca.key of the first controller there, mode 0600)`,
      );
    }
    // A CA key other users can read is refused, as a --sync-password-file is.
    if (othersCanAccess(keyMode)) {
      throw new UserError(
        `Refusing the registry CA key "${HOST.joinRegistryCaKey}": other users can access it (mode ${
          ((keyMode ?? 0) & 0o777).toString(8).padStart(4, "0")
        }): chmod 600 it`,
      );
    }
    const cert = await readRegistryCa(ctx.config);
    files.push(
      { path: join(base.storage, "tls", "ca.crt"), data: cert, mode: 0o644 },
      { path: join(base.storage, "tls", "ca.key"), data: key, mode: 0o600 },
    );
  }
  const sync = {
    ...base.sync!,
    from: addresses.map((a) => `${endpoint.insecure ? "http" : "https"}://${a}`),
    caFile: endpoint.insecure ? "" : caFile,
    username: "",
    passwordFile: "",
  };
  if (username) {
    files.push({ path: HOST.replicaSyncPassword, data: `${password}\n`, mode: 0o600 });
    Object.assign(sync, { username, passwordFile: HOST.replicaSyncPassword });
  }
  return { options: { ...base, tls, sync }, files };
}

/** The unit text of the replica. */
async function replicaUnit(ctx: InstallContext): Promise<{ plan: ReplicaPlan; unit: string }> {
  const plan = await replicaPlan(ctx);
  return { plan, unit: systemdUnit(unitBinary(), plan.options) };
}

/** The phase writing and (re)starting the replica's unit. */
export const registryReplicaPhase: Phase = {
  id: "registry-replica",
  title: "Run a registry replica here (k0rdentd registry --sync-from the cluster's registries)",
  async shouldRun(ctx) {
    const { plan, unit } = await replicaUnit(ctx);
    for (const f of plan.files) {
      if (!await ctx.host.matches(f.path, f.data, f.mode)) return true;
    }
    if (!await ctx.host.matches(HOST.registryUnit, unit)) return true;
    const active = await ctx.runner.run(["systemctl", "is-active", "--quiet", REGISTRY_UNIT]);
    return active.code !== 0;
  },
  async run(ctx) {
    const { plan, unit } = await replicaUnit(ctx);
    for (const f of plan.files) {
      await ctx.host.writeFile(f.path, f.data, { mode: f.mode, dirMode: 0o700 });
    }
    // The unit's ReadWritePaths= names the storage, and systemd refuses to start a unit whose
    // ReadWritePaths= does not exist (systemd.exec(5)): a plain-HTTP replica writes no file there.
    const storage = plan.options.storage;
    if (!await pathExists(ctx.host.mapPath(storage))) {
      await ctx.host.wet(
        `create directory ${storage} (mode 0700)`,
        () => Deno.mkdir(ctx.host.mapPath(storage), { recursive: true, mode: 0o700 }),
      );
    }
    await ctx.host.writeFile(HOST.registryUnit, unit);
    // Ours to remove on uninstall (a first controller's hand-installed unit is not recorded).
    // The TLS files live in the storage, which uninstall keeps unless --purge.
    const ours = [HOST.registryUnit, ...plan.files.map((f) => f.path)].filter((path) =>
      !path.startsWith(`${storage}/`)
    );
    await saveState(ctx.host, ctx.state, { files: [...ctx.state.files ?? [], ...ours] });
    await ctx.host.run(["systemctl", "daemon-reload"]);
    await ctx.host.run(["systemctl", "enable", REGISTRY_UNIT]);
    // restart, not start: a changed unit (another source list) takes effect.
    await ctx.host.run(["systemctl", "restart", REGISTRY_UNIT]);
  },
};

/**
 * The real registry (storage, HTTP app, `--tls auto` certificates made by openssl) on
 * 127.0.0.1 port 0 for the air-gap install tests, holding the k0rdent chart versions and images
 * a test asks for under the default prefix `k0rdent-enterprise`. Its storage is what install
 * finds as `registry.storage` (the auto CA under `tls/ca.crt`).
 */
import { openDiskStorage } from "../../src/registry/storage/storage.ts";
import { autoTls } from "../../src/registry/tls.ts";
import { ProcessRunner } from "../../src/process/runner.ts";
import bcrypt from "bcryptjs";
import { CredentialChecker, parseHtpasswd } from "../../src/registry/auth/htpasswd.ts";
import { storeChart, storeManifest } from "./store_image.ts";
import { kcmTemplatesLayer } from "../fixtures/make_bundle.ts";
import { FAKE_K0S_IMAGES } from "./fake_host.ts";
import { type LoggedRequest, serveRegistry } from "./registry_server.ts";

/** Options of {@link serveAirgapRegistry}. */
export interface AirgapRegistryOptions {
  /** Versions of `k0rdent-enterprise/charts/k0rdent-enterprise` to hold. */
  charts?: string[];
  /**
   * Hold kcm's `kcm-templates` chart of each of `charts` too (its `files/release.yaml` is the
   * Release of that version, read by upgrades).
   */
  kcmTemplates?: boolean;
  /**
   * Images to hold, as `<repository>:<tag>` under the prefix, e.g. `k0sproject/pause:3.9`;
   * default the k0s system images the fake k0s lists (the k0s-images preflight).
   */
  images?: readonly string[];
  /** Serve plain HTTP instead of `--tls auto`. */
  insecure?: boolean;
  /** Require these credentials for every request, pulls included (`--htpasswd --auth-pulls`). */
  auth?: { username: string; password: string };
}

/** A running test registry. */
export interface AirgapRegistry extends AsyncDisposable {
  /** `localhost:<port>`: how the host reaches it (install's default kind of address). */
  address: string;
  port: number;
  /** Its storage directory (`registry.storage`). */
  storage: string;
  /** The auto CA (`<storage>/tls/ca.crt`), or undefined over plain HTTP. */
  caFile?: string;
  /** Requests answered, in order. */
  requests: LoggedRequest[];
}

/** Starts the registry; dispose to stop it and remove its storage. */
export async function serveAirgapRegistry(
  options: AirgapRegistryOptions = {},
): Promise<AirgapRegistry> {
  const storageDir = await Deno.makeTempDir({ prefix: "k0rdentd-airgap-registry-" });
  const storage = openDiskStorage(storageDir);
  for (const version of options.charts ?? []) {
    await storeChart(
      storage,
      "k0rdent-enterprise/charts/k0rdent-enterprise",
      "k0rdent-enterprise",
      version,
    );
    if (!options.kcmTemplates) continue;
    await storeChart(
      storage,
      "k0rdent-enterprise/charts/kcm-templates",
      "kcm-templates",
      version,
      await kcmTemplatesLayer(version),
    );
  }
  for (const image of options.images ?? FAKE_K0S_IMAGES) {
    const at = image.lastIndexOf(":");
    await storeManifest(
      storage,
      `k0rdent-enterprise/${image.slice(0, at)}`,
      "amd64",
      image.slice(at + 1),
    );
  }
  const tls = options.insecure
    ? undefined
    : await autoTls(storageDir, ["localhost", "127.0.0.1"], new ProcessRunner());
  const access = options.auth && {
    credentials: new CredentialChecker(
      parseHtpasswd(`${options.auth.username}:${bcrypt.hashSync(options.auth.password, 4)}\n`),
    ),
    authPulls: true,
    readOnly: false,
  };
  const server = serveRegistry(storage, { tls: tls && { cert: tls.cert, key: tls.key }, access });
  const port = Number(server.address.split(":")[1]);
  return {
    address: `localhost:${port}`,
    port,
    storage: storageDir,
    caFile: tls?.caFile,
    requests: server.requests,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await Deno.remove(storageDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The address the air-gap tests give install for pods and other nodes
 * (`--registry-advertise-address`): a documentation address (RFC 5737) nothing is sent to,
 * since the fakes stand in for everything that would use it.
 */
export const ADVERTISE_IP = "203.0.113.10";

/** Install flags for `registry`: reached at its local address, advertised as {@link ADVERTISE_IP}. */
export function airgapArgs(registry: AirgapRegistry): string[] {
  return ["--registry-address", registry.address, "--registry-advertise-address", ADVERTISE_IP];
}

/** Environment sharing the registry's storage with install (`registry.storage`: its auto CA). */
export function airgapEnv(registry: AirgapRegistry): Record<string, string> {
  return { K0RDENTD_REGISTRY_STORAGE: registry.storage };
}

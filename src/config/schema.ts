/**
 * The configuration schema (`/etc/k0rdentd/k0rdentd.yaml`), validated with zod.
 * Every object is strict: unknown keys are errors. Defaults live in `defaults.ts`.
 */
import { isIP } from "node:net";
import { z } from "zod";
import { LOG_FORMATS, LOG_LEVELS } from "../log/logger.ts";
import { durationMs } from "./duration.ts";
import { parseHostPort } from "./host_port.ts";

const K0S_VERSION = /^v\d+\.\d+\.\d+\+k0s\.\d+$/;
/** A registry as image references name it: `HOST` (HTTPS on 443) or `HOST:PORT`. */
const REGISTRY_ADDRESS = /^([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$/;

const port = z.number().int().min(1).max(65535);
const duration = z.string().refine(
  (v) => durationMs(v) !== undefined,
  "expected a duration such as 30s, 2m or 1h",
);
/** An IP address as Go's `net.ParseIP` reads it (no zone). */
function goIP(value: string): 4 | 6 | 0 {
  return value.includes("%") ? 0 : isIP(value) as 4 | 6 | 0;
}
/**
 * A CIDR as k0s checks `spec.network.podCIDR`/`serviceCIDR` (Go `net.ParseCIDR`,
 * k0sproject/k0s `pkg/apis/k0s/v1beta1/network.go` at v1.32.8+k0s.0).
 */
const cidr = z.string().refine((v) => {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v);
  const family = m ? goIP(m[1]) : 0;
  return family !== 0 && Number(m![2]) <= (family === 4 ? 32 : 128);
}, "expected a CIDR such as 10.244.0.0/16");
/**
 * `spec.api.address` as k0s accepts it: empty (k0s picks one) or an IP address other than
 * 0.0.0.0 and :: (`APISpec.Validate`, k0sproject/k0s `pkg/apis/k0s/v1beta1/api.go` at
 * v1.32.8+k0s.0: `govalidator.IsIP`, then `isAnyAddress`; `k0s install controller` refuses
 * anything else as "invalid node config").
 */
const apiAddress = z.string().refine(
  (v) => v === "" || (goIP(v) !== 0 && v !== "0.0.0.0" && v !== "::"),
  "expected this node's IP address such as 10.0.0.5 (k0s refuses host names and 0.0.0.0), or empty to let k0s pick it",
);

/**
 * Registry addresses matching `entry`: one string (comma-separated for several) or a list of
 * them; either way the value is the comma-separated string, in the given order.
 */
function addressList(entry: RegExp, expected: string) {
  const list = (v: string) => v.split(",").map((a) => a.trim());
  const message = `expected ${expected} (several: a list, or separated by commas)`;
  return z.union([
    z.string().refine((v) => list(v).every((a) => entry.test(a)), message),
    z.array(z.string().regex(entry, message)).min(1),
  ]).transform((v) => (Array.isArray(v) ? v : list(v)).map((a) => a.trim()).join(","));
}

const base = { name: z.string().min(1), description: z.string().optional() };

const awsCredential = z.strictObject({
  ...base,
  region: z.string().optional(),
  accessKeyID: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().optional(),
});

const azureCredential = z.strictObject({
  ...base,
  subscriptionID: z.string().min(1),
  tenantID: z.string().min(1),
  clientID: z.string().min(1),
  clientSecret: z.string().min(1),
});

const openstackCredential = z.strictObject({
  ...base,
  authURL: z.string().url(),
  region: z.string().optional(),
  interface: z.string().optional(),
  applicationCredentialID: z.string().optional(),
  applicationCredentialSecret: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  projectName: z.string().optional(),
  projectDomainName: z.string().optional(),
  userDomainName: z.string().optional(),
}).refine(
  (c) =>
    (c.applicationCredentialID && c.applicationCredentialSecret) ||
    (c.username && c.password && c.projectName),
  "needs applicationCredentialID and applicationCredentialSecret, or username, password and projectName",
);

const vsphereCredential = z.strictObject({
  ...base,
  vcenter: z.string().min(1),
  datacenter: z.string().optional(),
  username: z.string().min(1),
  password: z.string().min(1),
});

const gcpCredential = z.strictObject({
  ...base,
  /** The service-account key JSON. */
  credentials: z.string().min(1),
});

/** The whole configuration. */
export const configSchema = z.strictObject({
  logLevel: z.enum(LOG_LEVELS),
  logFormat: z.enum(LOG_FORMATS),
  k0s: z.strictObject({
    version: z.string().regex(K0S_VERSION, "expected a k0s version such as v1.32.8+k0s.0"),
    api: z.strictObject({ address: apiAddress, port }),
    network: z.strictObject({
      provider: z.enum(["kuberouter", "calico", "custom"]),
      podCIDR: cidr,
      serviceCIDR: cidr,
    }),
    storage: z.strictObject({
      type: z.enum(["etcd", "kine"]),
      kineDataSource: z.string().optional(),
    }),
    /** Raw k0s ClusterConfig fragment (YAML text or a mapping) merged over the generated one. */
    config: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  }),
  k0rdent: z.strictObject({
    /** "" picks it: online the default chart version, air-gapped the bundle's or the registry's. */
    version: z.string().regex(
      /^$|^\d+\.\d+\.\d+([-+].+)?$/,
      "expected a chart version such as 1.2.3 (or empty to pick it)",
    ),
    helm: z.strictObject({
      chart: z.string().min(1),
      releaseName: z.string().min(1),
      namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "expected a namespace name"),
      values: z.record(z.string(), z.unknown()),
    }),
    credentials: z.strictObject({
      aws: z.array(awsCredential),
      azure: z.array(azureCredential),
      openstack: z.array(openstackCredential),
      vsphere: z.array(vsphereCredential),
      gcp: z.array(gcpCredential),
    }),
  }),
  airgap: z.strictObject({
    bundlePath: z.string(),
    /** `controller.globalK0sURL` for child clusters; "" = the registry's files listener. */
    k0sURL: z.string().regex(/^$|^https?:\/\/\S+$/, "expected an http:// or https:// URL"),
    registry: z.strictObject({
      /**
       * The registry, or several serving the same content (replicas), in the order clients try
       * them: a list, or one string with commas. Kept as that comma-separated string.
       */
      address: addressList(REGISTRY_ADDRESS, "HOST or HOST:PORT such as localhost:5000"),
      /** The address(es) pods and other nodes use; "" derives them (airgap_registry/resolve.ts). */
      advertiseAddress: z.union([
        z.literal(""),
        addressList(/^[A-Za-z0-9.\-\[\]:]+$/, "HOST or HOST:PORT such as 10.0.0.5:5000"),
      ]),
      prefix: z.string(),
      insecure: z.boolean(),
      caFile: z.string(),
      /** Pull credentials of the registry (an existing Harbor/Distribution); "" for none. */
      username: z.string(),
      password: z.string(),
      mirrors: z.array(z.string().min(1)),
    }),
  }),
  join: z.strictObject({
    mode: z.enum(["", "controller", "worker"]),
    server: z.string(),
    token: z.string(),
    tokenFile: z.string(),
    /**
     * Air gap, joining controller: also run a registry replica here (`k0rdentd registry
     * --sync-from` every `airgap.registry.address`) as the systemd unit `k0rdentd-registry`.
     */
    registryReplica: z.boolean(),
  }),
  registry: z.strictObject({
    host: z.string().min(1),
    port,
    /** Plain-HTTP port serving the stored k0s binaries to child clusters; 0 disables it. */
    filesPort: z.number().int().min(0).max(65535),
    /** `HOST:PORT` of the metrics and health listener; "" disables it. */
    debugAddress: z.string().refine(
      (v) => v === "" || parseHostPort(v) !== undefined,
      'expected HOST:PORT such as 127.0.0.1:5001, or "" for none',
    ),
    /** One log line per request. */
    accessLog: z.boolean(),
    storage: z.string().min(1),
    bundlePath: z.string(),
    prefix: z.string(),
    verifySignature: z.boolean(),
    cosignKey: z.string(),
    /** Registries to replicate from (`--sync-from`): `https://HOST:PORT`, `http://...`. */
    syncFrom: z.array(
      z.string().regex(
        /^(https?:\/\/)?[^\s/@]+\/?$/,
        "expected a URL such as https://10.0.0.5:5000",
      ),
    ),
    /**
     * The files listeners of the `syncFrom` sources, in the same order (`--sync-files-from`):
     * `http://HOST:PORT/<prefix>`; empty: each source's host with this registry's `filesPort`
     * and `prefix`.
     */
    syncFilesFrom: z.array(
      z.string().regex(
        /^http:\/\/[^\s/@]+(\/[^\s]*)?$/,
        "expected a URL such as http://10.0.0.5:5080/k0rdent-enterprise",
      ),
    ),
    /** Pause between two replication passes of one source. */
    syncInterval: duration,
    /** PEM CA of the sources; "" = system roots plus this registry's `--tls auto` CA. */
    syncCaFile: z.string(),
    /** Basic-auth user on the sources; the password is read from `syncPasswordFile`. */
    syncUsername: z.string(),
    syncPasswordFile: z.string(),
    /** How bundle signatures are checked: in the load's pass, or by `cosign verify-blob`. */
    verifier: z.enum(["native", "cosign"]),
    tls: z.strictObject({
      mode: z.enum(["off", "files", "auto"]),
      cert: z.string(),
      key: z.string(),
      sans: z.array(z.string()),
    }),
    auth: z.strictObject({
      htpasswd: z.string(),
      authPulls: z.boolean(),
      readOnly: z.boolean(),
    }),
    /** What one client can hold: connections, timeouts. */
    limits: z.strictObject({
      /** Open connections at most (fewer when the open-file limit allows fewer). */
      maxConnections: z.number().int().min(1),
      /** Close a connection that sends no complete request header within this. */
      headerTimeout: duration,
      /** Close a connection when its last request started this long ago. */
      idleTimeout: duration,
      /** Upload sessions open at once, all clients together. */
      maxUploads: z.number().int().min(1),
      /** Upload sessions open at once from one client address. */
      maxUploadsPerClient: z.number().int().min(1),
      /** Remove an upload session untouched for this long. */
      uploadExpiry: duration,
      /** Failed logins one client address may make per minute (with htpasswd). */
      maxLoginFailures: z.number().int().min(1),
    }),
  }).superRefine((r, ctx) => {
    const debug = parseHostPort(r.debugAddress);
    if (debug && debug.port !== 0 && (debug.port === r.port || debug.port === r.filesPort)) {
      ctx.addIssue({
        code: "custom",
        path: ["debugAddress"],
        message: `port ${debug.port} is the ${
          debug.port === r.port ? "registry port (--port)" : "files port (--files-port)"
        }: the metrics and health listener needs its own (--debug-address)`,
      });
    }
  }),
});

/** The effective configuration. */
export type Config = z.infer<typeof configSchema>;

/**
 * The join configuration files `export-join-config` writes (`controller-join.yaml`,
 * `worker-join.yaml`): k0rdentd config files for a new node, so that
 * `k0rdentd -c worker-join.yaml install --join` needs nothing else.
 */
import { stringify } from "yaml";
import type { Config } from "../config/schema.ts";
import { splitAddresses } from "../airgap_registry/endpoint.ts";
import { HOST } from "../host/paths.ts";
import type { JoinRole } from "./token.ts";

/** The default output directory of `export-join-config`. */
export const DEFAULT_JOIN_CONFIG_DIR = "./join-configs";

/** The file name for a role's join config. */
export function joinConfigFile(role: JoinRole): string {
  return `${role}-join.yaml`;
}

/** The registry CA copied beside the join files, and where the join files expect it. */
export const JOIN_CA_FILE = "registry-ca.crt";

/** What a join file holds. */
export interface JoinConfigInput {
  role: JoinRole;
  k0sVersion: string;
  /**
   * The cluster's k0s settings; a joining controller must run with the same network, storage
   * and raw config (its own API address is left to auto-detection).
   */
  k0s: Config["k0s"];
  /** The controller's API, `https://<ip>:<port>`. */
  server: string;
  token: string;
  expiry: string;
  /** The air-gap registry the node pulls from (with replicas: comma-separated, in order). */
  registry?: { address: string; prefix: string; insecure: boolean; ca: boolean };
  /** Time of creation (ISO), shown in the header. */
  created: string;
}

/** Renders one join file (YAML with an explanatory header; holds a secret). */
export function renderJoinConfig(input: JoinConfigInput): string {
  const doc: Record<string, unknown> = {
    k0s: input.role === "controller"
      ? { ...input.k0s, version: input.k0sVersion, api: { ...input.k0s.api, address: "" } }
      : { version: input.k0sVersion },
    join: { mode: input.role, server: input.server, token: input.token },
  };
  const addresses = splitAddresses(input.registry?.address ?? "");
  if (input.registry) {
    doc.airgap = {
      registry: {
        address: addresses.length > 1 ? addresses : addresses[0],
        prefix: input.registry.prefix,
        insecure: input.registry.insecure,
        ...(input.registry.ca ? { caFile: HOST.joinRegistryCa } : {}),
      },
    };
  }
  const header = [
    `# k0rdentd join configuration for a new ${input.role} node (secret: holds a join token).`,
    `# Created ${input.created}; the token expires ${input.expiry} after that.`,
    `# On the new node: sudo k0rdentd -c ${joinConfigFile(input.role)} install --join`,
    ...(input.registry
      ? [
        `# Registry ${addresses.join(", ")}: ${input.registry.insecure ? "plain HTTP" : "HTTPS"}${
          input.registry.ca ? `; copy ${JOIN_CA_FILE} to ${HOST.joinRegistryCa} first` : ""
        }.`,
        ...(input.role === "controller"
          ? [
            `# To run a registry replica here too: install --join --registry-replica${
              !input.registry.insecure
                ? ` (first copy <registry.storage>/tls/ca.key of this controller to ${HOST.joinRegistryCaKey}, mode 0600)`
                : ""
            }.`,
          ]
          : []),
      ]
      : []),
  ];
  return `${header.join("\n")}\n${stringify(doc)}`;
}

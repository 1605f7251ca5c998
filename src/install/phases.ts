/**
 * The install phases, in order: plain data that callers (join, tests) can
 * filter or extend. Each phase is one file under `phases/`.
 */
import type { Phase } from "./phase.ts";
import { credentialsPhase } from "./phases/credentials.ts";
import { containerdMirrorsPhase } from "./phases/containerd_mirrors.ts";
import { k0sBinaryPhase } from "./phases/k0s_binary.ts";
import { k0sConfigPhase } from "./phases/k0s_config.ts";
import { k0rdentHelmPhase } from "./phases/k0rdent_helm.ts";
import { k0rdentUiPhase } from "./phases/k0rdent_ui.ts";
import { k0sServicePhase } from "./phases/k0s_service.ts";
import { preflightPhase } from "./phases/preflight.ts";
import { waitK0rdentPhase } from "./phases/wait_k0rdent.ts";
import { waitKubernetesPhase } from "./phases/wait_kubernetes.ts";

/** The single-node controller+worker install. */
export const INSTALL_PHASES: readonly Phase[] = [
  preflightPhase,
  k0sBinaryPhase,
  k0sConfigPhase,
  containerdMirrorsPhase,
  k0sServicePhase,
  waitKubernetesPhase,
  k0rdentHelmPhase,
  waitK0rdentPhase,
  credentialsPhase,
  k0rdentUiPhase,
];

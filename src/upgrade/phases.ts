/**
 * The upgrade phases, in order: plain data like the install's list (`install/phases.ts`). Each
 * phase skips what is done, so a rerun changes nothing and a rerun after a failure resumes.
 */
import type { Phase } from "../install/phase.ts";
import { k0rdentHelmPhase } from "../install/phases/k0rdent_helm.ts";
import { bundleLoadPhase } from "./phases/bundle_load.ts";
import { k0rdentManagementPhase, waitUpgradePhase } from "./phases/k0rdent_management.ts";
import { k0rdentReleasePhase } from "./phases/k0rdent_release.ts";
import { upgradePreflightPhase } from "./phases/preflight.ts";
import { recordUpgradePhase } from "./phases/record.ts";
import { k0sUpgradePhase } from "./phases/k0s_upgrade.ts";

/**
 * preflight, load, k0rdent (Release, values for the new chart into Management
 * spec.core.kcm.config as kcm's hack/dev-upgrade.bash does before it moves spec.release, the
 * move), k0s, wait, record.
 */
export const UPGRADE_PHASES: readonly Phase[] = [
  upgradePreflightPhase,
  bundleLoadPhase,
  k0rdentReleasePhase,
  { ...k0rdentHelmPhase, title: "Hand kcm the helm values of the new version" },
  k0rdentManagementPhase,
  k0sUpgradePhase,
  waitUpgradePhase,
  recordUpgradePhase,
];

/**
 * Changes to k0rdent's `Management` object `kcm` once kcm owns its release: its helm values
 * (`spec.core.kcm.config`) and the `Release` it runs (`spec.release`), as merge patches from a
 * private temporary file. This is kcm's own upgrade sequence (k0rdent/kcm hack/dev-upgrade.bash:
 * `kubectl patch management kcm --type=merge --patch-file <tmp>` with
 * `{"spec":{"core":{"kcm":{"config": <values>}}}}`, then `{"spec":{"release":"<name>"}}`).
 */
import { withPrivateTempFile } from "../fsx/private_temp_file.ts";
import type { K0sCli } from "../k0s/k0s_cli.ts";

/** The name of the one Management object (`kcmv1.ManagementName`). */
export const MANAGEMENT_NAME = "kcm";

/** Stands for the temporary patch file in the plan. */
const PATCH_FILE_PLACEHOLDER = "<temporary patch file>";

/** `kubectl patch management kcm --type=merge --patch-file <file>` without `kubectl`. */
export function managementPatchArgs(file: string): string[] {
  return ["patch", "management", MANAGEMENT_NAME, "--type=merge", "--patch-file", file];
}

/**
 * Merge-patches the Management with `patch`; the JSON travels in a 0600 file (helm values may
 * hold secrets), never on argv. `what` names the change in the plan.
 */
export async function patchManagement(k0s: K0sCli, patch: unknown, what: string): Promise<void> {
  const display = `${managementPatchArgs(PATCH_FILE_PLACEHOLDER).join(" ")} (${what})`;
  await withPrivateTempFile(
    "k0rdentd-patch-",
    "patch.json",
    JSON.stringify(patch),
    (file) => k0s.kubectlApply(managementPatchArgs(file), undefined, display),
  );
}

/** The patch that hands kcm new helm values (`Management.spec.core.kcm.config`). */
export function kcmConfigPatch(values: Record<string, unknown>): unknown {
  return { spec: { core: { kcm: { config: values } } } };
}

/** The patch that moves kcm to another `Release` (`Management.spec.release`). */
export function releasePatch(name: string): unknown {
  return { spec: { release: name } };
}

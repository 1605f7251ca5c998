/** `k0rdentd upgrade`: the install flags plus the new bundle's; the work is in `src/upgrade/`. */
import type { Command } from "commander";
import { printData } from "../../log/output.ts";
import { formatUpgradeSummary, upgrade } from "../../upgrade/upgrade.ts";
import { addInstallFlags, installRequest, type SharedInstallFlags } from "../install_flags.ts";
import { flagOverrides } from "../context.ts";
import {
  addSignatureFlags,
  key,
  SIGNATURE_OVERRIDES,
  type SignatureFlags,
  verifyMode,
} from "./bundle.ts";

/** Registers `upgrade`. */
export function registerUpgrade(program: Command): void {
  addSignatureFlags(
    addInstallFlags(
      program.command("upgrade")
        .description(
          "Upgrade k0rdent (and k0s) to a new bundle or version (idempotent: rerun to resume)",
        ),
      "air gap: the new bundle, loaded into the registry storage first (config airgap.bundlePath)",
    ).option("--allow-downgrade", "allow a target older than what runs"),
  )
    .addHelpText(
      "after",
      `
Examples:
  sudo k0rdentd upgrade --airgap-bundle-path ./airgap-bundle-1.3.0.tar.gz --cosign-key ./cosign.pub
  sudo k0rdentd upgrade --airgap-bundle-path ./airgap-bundle-1.3.0.tar.gz --verify=false --dry-run
  sudo k0rdentd upgrade --airgap   # to the highest k0rdent version already in the registry
  sudo k0rdentd upgrade --k0rdent-version 1.3.0   # online
  sudo k0rdentd upgrade --airgap-bundle-path ./airgap-bundle-1.1.0.tar.gz --allow-downgrade

Refused: a target older than the running k0rdent (without --allow-downgrade), another
--registry-prefix than the install's, a bundle whose signature does not check out. A rerun
changes nothing; after a failure it resumes where it stopped. See docs/upgrade.md.`,
    )
    .action(async (flags: SignatureFlags & SharedInstallFlags, cmd: Command) => {
      const request = await installRequest(cmd, flags, flagOverrides(cmd, SIGNATURE_OVERRIDES));
      request.options.bundleSignature = {
        verify: verifyMode(request.config, flags),
        key: key(request.config),
        signature: flags.signature,
      };
      const summary = await upgrade(request);
      printData(request.output, summary, () => formatUpgradeSummary(summary));
    });
}

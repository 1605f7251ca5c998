/**
 * Upgrade phase: remember what k0rdent now runs (`install-state.json` `k0rdentVersion`, read by
 * later upgrades and `status`), once the Management runs the target Release; in an air gap also
 * in the registry storage on this host, so `registry gc --keep-bundles` keeps its tags.
 */
import type { Phase } from "../../install/phase.ts";
import { saveState } from "../../install/state.ts";
import { markVersionInUse } from "../../install/version_in_use.ts";

/** The record phase. */
export const recordUpgradePhase: Phase = {
  id: "upgrade-record",
  title: "Record the upgraded version",
  shouldRun(ctx) {
    return Promise.resolve(ctx.state.k0rdentVersion !== ctx.config.k0rdent.version);
  },
  async run(ctx) {
    await saveState(ctx.host, ctx.state, { k0rdentVersion: ctx.config.k0rdent.version });
    if (ctx.options.airgap && !ctx.host.dryRun) await markVersionInUse(ctx.config);
  },
};

/**
 * Upgrade phase (air gap with `--airgap-bundle-path`): load the new bundle into the registry
 * storage the daemon serves (`registry.storage`), under the install's repository prefix, with the
 * signature checked as `bundle load` checks it, and the k0s binaries lying beside it. A bundle already loaded is only checked
 * (`loadBundle` reads its journal), so a rerun stores nothing twice.
 */
import { loadBundleWithBeside } from "../../bundle/loading/load.ts";
import type { Phase } from "../../install/phase.ts";
import { log } from "../../log/logger.ts";
import { formatBytes, progressMode } from "../../log/progress.ts";
import { openDiskStorage } from "../../registry/storage/storage.ts";

/** The load-the-new-bundle phase. */
export const bundleLoadPhase: Phase = {
  id: "bundle-load",
  title: "Load the new bundle into the registry",
  shouldRun(ctx) {
    return Promise.resolve(ctx.options.airgap && ctx.config.airgap.bundlePath !== "");
  },
  async run(ctx) {
    const signature = ctx.options.bundleSignature ?? { verify: "native" as const };
    const result = await loadBundleWithBeside({
      bundle: ctx.config.airgap.bundlePath,
      storage: openDiskStorage(ctx.config.registry.storage),
      prefix: ctx.config.airgap.registry.prefix,
      verify: signature.verify,
      key: signature.key,
      signature: signature.signature,
      runner: ctx.runner,
      signal: ctx.signal,
      progress: progressMode(ctx.output),
      writeStatus: true,
    });
    if (!result.alreadyLoaded) {
      log.info(
        `Loaded "${result.bundle}": ${result.refs.length} references, ${
          formatBytes(result.bytesStored)
        } new (signature: ${result.verified})`,
      );
    }
  },
  dryRun(ctx) {
    const verify = ctx.options.bundleSignature?.verify ?? "native";
    return [
      `load bundle "${ctx.config.airgap.bundlePath}" into "${ctx.config.registry.storage}" (signature check: ${verify})`,
    ];
  },
};

/**
 * After install or upgrade: marks in the registry storage on this host the k0rdent version the
 * cluster now runs (`markInUse`), so `registry gc --keep-bundles` keeps its tags however old.
 */
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { pathExists } from "../fsx/exists.ts";
import { markInUse } from "../bundle/loading/in_use.ts";
import { bundleStateDir } from "../bundle/loading/load_state.ts";
import { log } from "../log/logger.ts";

/**
 * Marks `config.k0rdent.version` in use in `registry.storage` when this host holds that storage
 * (a bundle was loaded into it here); a registry on another host is left alone (run
 * `registry gc` there with the version kept in mind). A failure is a warning: the cluster runs.
 */
export async function markVersionInUse(config: Config): Promise<void> {
  const storage = config.registry.storage;
  if (!await pathExists(bundleStateDir(storage))) return;
  try {
    await markInUse(storage, config.k0rdent.version);
  } catch (err) {
    log.warn(
      `Cannot mark k0rdent ${config.k0rdent.version} in use in "${storage}" (registry gc ` +
        `--keep-bundles may collect it): ${errorMessage(err)}`,
    );
  }
}

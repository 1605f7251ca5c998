/**
 * Upgrade phase: read-only checks before anything changes. k0s runs and answers, k0rdent is
 * installed (Management "kcm" and its Release), the target is not older than what runs (unless
 * `--allow-downgrade`), in an air gap the repository prefix is the one k0rdent was installed
 * from (its images and charts are referenced under that prefix), and no autopilot Plan would take
 * nodes with registry drop-ins across k0s 1.36 (`refuseK0sSchemaChange`: k0rdent's phases come
 * before k0s's, so the k0s phase's own check would come after k0rdent moved).
 */
import semver from "semver";
import { UserError } from "../../errors.ts";
import type { Phase } from "../../install/phase.ts";
import { log } from "../../log/logger.ts";
import { refuseK0sSchemaChange } from "./k0s_upgrade.ts";

/** The upgrade preflight phase. */
export const upgradePreflightPhase: Phase = {
  id: "upgrade-preflight",
  title: "Check that the upgrade can start",
  async run(ctx) {
    const status = await ctx.k0s.status();
    if (!status) {
      throw new UserError(
        'k0s is not running on this host: start it (or install with "k0rdentd install") before upgrading',
      );
    }
    const mgmt = await ctx.kubectl.management();
    if (!mgmt) {
      throw new UserError(
        'k0rdent is not installed (no Management "kcm" answers): run "k0rdentd install" first',
      );
    }
    const installedPrefix = ctx.state.registryPrefix;
    const prefix = ctx.config.airgap.registry.prefix;
    if (ctx.options.airgap && installedPrefix !== undefined && installedPrefix !== prefix) {
      throw new UserError(
        `Refusing to upgrade from repository prefix "${prefix}": k0rdent was installed from "${installedPrefix}" (use --registry-prefix ${
          installedPrefix || '""'
        })`,
      );
    }
    const running = mgmt.statusRelease || mgmt.release;
    const release = running ? await ctx.kubectl.release(running) : null;
    const installed = release?.version || ctx.state.k0rdentVersion || "";
    ctx.facts.k0rdentInstalled = { release: running, version: installed };
    const target = ctx.config.k0rdent.version;
    const a = semver.valid(installed.replace(/^v/, ""));
    const b = semver.valid(target.replace(/^v/, ""));
    if (a && b && semver.lt(b, a)) {
      if (!ctx.options.allowDowngrade) {
        throw new UserError(
          `Refusing to downgrade k0rdent from ${installed} to ${target}: the bundle or --k0rdent-version is older than what runs (pass --allow-downgrade to force it)`,
        );
      }
      log.warn(`Downgrading k0rdent from ${installed} to ${target} (--allow-downgrade)`);
    }
    await refuseK0sSchemaChange(ctx);
    log.info(
      `k0rdent ${installed || "(version unknown)"} runs Release ${
        running || "-"
      }; target ${target}`,
    );
  },
};

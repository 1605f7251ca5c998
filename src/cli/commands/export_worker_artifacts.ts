/** `k0rdentd export-worker-artifacts`: a self-contained bundle that joins a worker node. */
import type { Command } from "commander";
import { UsageError } from "../../errors.ts";
import { checkExpiry, DEFAULT_TOKEN_EXPIRY } from "../../join/token.ts";
import { splitHostPort } from "../../join/node_address.ts";
import { splitAddresses } from "../../airgap_registry/endpoint.ts";
import { log } from "../../log/logger.ts";
import { printData } from "../../log/output.ts";
import { exportWorkerArtifacts } from "../../worker_artifacts/export_worker_artifacts.ts";
import { DEFAULT_BUNDLE_DIR } from "../../worker_artifacts/layout.ts";
import { commandContext } from "../context.ts";

interface Flags {
  out?: string;
  archive?: string;
  k0sBinary?: string;
  expiry: string;
  registryAddress?: string;
  overwrite?: boolean;
  withImages?: boolean;
}

/** Registers `export-worker-artifacts`. */
export function registerExportWorkerArtifacts(program: Command): void {
  program.command("export-worker-artifacts")
    .description(
      "Write a bundle that joins a worker: k0s binary, registry drop-ins, join token, install.sh",
    )
    .option("-o, --out <dir>", `output directory (default ${DEFAULT_BUNDLE_DIR})`)
    .option("--archive <file.tar.gz>", "write a gzipped tar instead of a directory")
    .option("--k0s-binary <path>", "bundle this k0s binary (default: embedded, else installed)")
    .option("--expiry <duration>", "lifetime of the worker join token", DEFAULT_TOKEN_EXPIRY)
    .option(
      "--registry-address <host:port[,...]>",
      "registry address as workers reach it, replicas comma-separated in order (default: airgap.registry.address, localhost replaced by this host's IP)",
    )
    .option(
      "--with-images",
      "add the k0s system images from the registry storage (for workers that cannot reach it)",
    )
    .option("--overwrite", "replace an existing output")
    .addHelpText(
      "after",
      `
The bundle holds a join token only when run on a running controller; otherwise
README.md inside says how to add one. Directory 0700, token 0600, archive 0600.

Examples:
  sudo k0rdentd export-worker-artifacts
  sudo k0rdentd export-worker-artifacts -o /tmp/worker-bundle --expiry 2h --overwrite
  sudo k0rdentd export-worker-artifacts --archive worker-bundle.tar.gz --with-images
  k0rdentd export-worker-artifacts --k0s-binary ./k0s --registry-address 10.0.0.5:5000
  k0rdentd export-worker-artifacts --registry-address 10.0.0.5:5000,10.0.0.6:5000,10.0.0.7:5000`,
    )
    .action(async (flags: Flags, cmd: Command) => {
      if (flags.out && flags.archive) {
        throw new UsageError("Use either -o/--out or --archive, not both");
      }
      if (flags.archive && !/\.(tar\.gz|tgz)$/.test(flags.archive)) {
        throw new UsageError(`Invalid --archive "${flags.archive}": expected a .tar.gz file name`);
      }
      checkExpiry(flags.expiry);
      for (const address of splitAddresses(flags.registryAddress ?? "")) splitHostPort(address);
      const ctx = await commandContext(cmd);
      const overwrite = flags.overwrite ?? false;
      const { plan, summary } = await exportWorkerArtifacts(ctx, {
        target: flags.archive
          ? { archive: flags.archive, overwrite }
          : { dir: flags.out ?? DEFAULT_BUNDLE_DIR, overwrite },
        k0sBinary: flags.k0sBinary,
        expiry: flags.expiry,
        registryAddress: flags.registryAddress,
        withImages: flags.withImages ?? false,
      });
      if (!summary) {
        log.info(
          `Dry run: would write a worker bundle to "${plan.path}" with k0s ${plan.k0sVersion} from ${plan.k0sSource}${
            plan.registry ? `, registry ${plan.registry.address}` : ""
          }${plan.token ? ", a new worker join token" : ""}${
            plan.images ? ", the k0s system images" : ""
          }`,
        );
        return;
      }
      printData(ctx.output, { ...plan, files: summary.files }, () =>
        [
          `Wrote worker bundle "${summary.path}" (k0s ${plan.k0sVersion}${
            plan.registry ? `, registry ${plan.registry.address}` : ""
          }${summary.token ? ", worker join token" : ", no join token"})`,
          `Next: copy it to the worker and run "sudo ./install.sh" there (see README.md inside)`,
        ].join("\n"));
    });
}

/** `k0rdentd bundle load|inspect|verify`: the air-gap bundle, read in one streaming pass. */
import { type Command, Option } from "commander";
import { type BundleReport, inspectBundle, verifyBundle } from "../../bundle/reading/inspect.ts";
import { loadBundleWithBeside } from "../../bundle/loading/load.ts";
import { importWithSkopeo } from "../../bundle/loading/skopeo_import.ts";
import { parseTarget, pushBundle } from "../../bundle/pushing/push.ts";
import type { VerifyMode } from "../../bundle/reading/signature.ts";
import type { Decompressor } from "../../bundle/reading/source.ts";
import type { Config } from "../../config/schema.ts";
import { log } from "../../log/logger.ts";
import { printData } from "../../log/output.ts";
import { formatBytes, progressMode } from "../../log/progress.ts";
import { openDiskStorage } from "../../registry/storage/storage.ts";
import { HOST } from "../../host/paths.ts";
import { commandContext, flagOverrides } from "../context.ts";
import { booleanFlag } from "../../config/boolean.ts";

/** Signature flags that override configuration keys (shared with `upgrade`). */
export const SIGNATURE_OVERRIDES = {
  verify: { path: ["registry", "verifySignature"], flag: "--verify" },
  cosignKey: { path: ["registry", "cosignKey"], flag: "--cosign-key" },
};

const FLAGS = {
  storage: { path: ["registry", "storage"], flag: "--storage" },
  prefix: { path: ["registry", "prefix"], flag: "--prefix" },
  ...SIGNATURE_OVERRIDES,
};

interface PushFlags {
  to: string;
  username?: string;
  passwordStdin?: boolean;
  caFile?: string;
  plainHttp?: boolean;
}

async function readStdin(): Promise<string> {
  return (await new Response(Deno.stdin.readable).text()).replace(/\r?\n$/, "");
}

/** The signature flags, as commander parses them. */
export interface SignatureFlags {
  verifier?: "native" | "cosign";
  signature?: string;
}

interface BundleFlags extends SignatureFlags {
  importer?: "native" | "skopeo";
  gunzip?: Decompressor;
}

/** Adds `--verify`, `--cosign-key`, `--signature` and `--verifier` (shared with `upgrade`). */
export function addSignatureFlags(cmd: Command): Command {
  return cmd.addOption(
    new Option("--verify [bool]", "check the bundle signature (default true)")
      .argParser(booleanFlag("--verify")),
  )
    .option("--cosign-key <path>", "PEM public key (env K0RDENTD_COSIGN_KEY)")
    .addOption(new Option("--cosignKey <path>", "alias of --cosign-key").hideHelp())
    .option("--signature <file>", "detached signature (default <bundle>.sig)")
    .addOption(
      new Option("--verifier <how>", "native (in the same pass) or cosign (a separate pass)")
        .choices(["native", "cosign"]),
    );
}

/** Adds the flags shared by the subcommands that read the bundle. */
function readFlags(cmd: Command, signature: boolean): Command {
  cmd.option("--prefix <prefix>", 'repository prefix (default "k0rdent-enterprise"; may be "")')
    .addOption(
      new Option("--gunzip <how>", "gzip decompression: builtin (default) or a pigz subprocess")
        .choices(["builtin", "pigz"]),
    );
  return signature ? addSignatureFlags(cmd) : cmd;
}

/** How the signature is checked: off (`--verify=false`), else `--verifier` or the config's. */
export function verifyMode(config: Config, flags: SignatureFlags): VerifyMode {
  if (!config.registry.verifySignature) return "off";
  return flags.verifier ?? config.registry.verifier;
}

/** The public key of the signature check, if configured. */
export function key(config: Config): string | undefined {
  return config.registry.cosignKey || undefined;
}

function reportText(r: BundleReport): string {
  const line = (i: BundleReport["images"][number]) =>
    `  ${i.reference}  ${i.digest.slice(0, 19)}  ${formatBytes(i.size)}` +
    (i.platforms.length ? `  ${i.platforms.join(",")}` : "");
  return [
    `Bundle "${r.bundle}" (${formatBytes(r.totals.bundleBytes)})`,
    `k0rdent version: ${r.k0rdentVersion ?? "unknown (no charts/k0rdent-enterprise_*.tar)"}`,
    `Images (${r.images.length}):`,
    ...r.images.map(line),
    `Charts (${r.charts.length}):`,
    ...r.charts.map(line),
    ...(r.skipped.length
      ? [`Skipped (${r.skipped.length}):`, ...r.skipped.map((s) => `  ${s.path}: ${s.reason}`)]
      : []),
    `Total: ${r.totals.images} images, ${r.totals.charts} charts, ${formatBytes(r.totals.bytes)}`,
    ...(r.signature ? [`Signature: ${r.signature}; ${r.blobsVerified} blobs verified`] : []),
  ].join("\n");
}

/** Registers `bundle` and its subcommands. */
export function registerBundle(program: Command): void {
  const bundle = program.command("bundle")
    .description("Load, inspect and verify the air-gap bundle (one streaming pass, no extraction)")
    .addHelpText(
      "after",
      `
Examples:
  k0rdentd bundle inspect airgap-bundle-1.2.3.tar.gz
  k0rdentd bundle verify airgap-bundle-1.2.3.tar.gz --cosign-key ./cosign.pub
  k0rdentd bundle load airgap-bundle-1.2.3.tar.gz --cosign-key ./cosign.pub`,
    );

  readFlags(
    bundle.command("load")
      .argument("<bundle>", ".tar.gz, .tar or extracted directory")
      .description("Load the bundle into the registry storage (resumable, safe while serving)")
      .option("--storage <dir>", `registry storage (default ${HOST.registryStorage})`)
      .addOption(
        new Option("--importer <how>", "native (one pass) or skopeo (extract + skopeo copy, slow)")
          .choices(["native", "skopeo"]).default("native"),
      ),
    true,
  )
    .addHelpText(
      "after",
      `
Examples:
  k0rdentd bundle load airgap-bundle-1.2.3.tar.gz --cosign-key ./cosign.pub
  k0rdentd bundle load ./airgap-bundle-1.2.3/ --verify=false --storage ./var/registry
  k0rdentd bundle load B.tar.gz --cosign-key ./cosign.pub --verifier cosign --output json

A rerun after an interruption resumes (blobs already stored are not written again);
a rerun of a complete bundle only checks its tags.`,
    )
    .action(async (path: string, opts: BundleFlags, cmd: Command) => {
      const ctx = await commandContext(cmd, flagOverrides(cmd, FLAGS));
      const mode = verifyMode(ctx.config, opts);
      if (ctx.dryRun) {
        log.info(
          `Dry run: would load "${path}" into "${ctx.config.registry.storage}" ` +
            `(signature check: ${mode})`,
        );
        return;
      }
      if (opts.importer === "skopeo") {
        const r = await importWithSkopeo({
          bundle: path,
          storage: openDiskStorage(ctx.config.registry.storage),
          prefix: ctx.config.registry.prefix,
          verify: mode,
          key: key(ctx.config),
          signature: opts.signature,
          runner: ctx.runner,
          signal: ctx.signal,
        });
        printData(
          ctx.output,
          r,
          () =>
            `Imported "${path}" with skopeo: ${r.refs.length} references, ` +
            `${r.k0sBinaries.length} k0s binaries beside it`,
        );
        return;
      }
      const result = await loadBundleWithBeside({
        bundle: path,
        storage: openDiskStorage(ctx.config.registry.storage),
        prefix: ctx.config.registry.prefix,
        verify: mode,
        key: key(ctx.config),
        signature: opts.signature,
        runner: ctx.runner,
        signal: ctx.signal,
        progress: progressMode(ctx.output),
        decompressor: opts.gunzip,
        // `registry status` reports a foreground load as it does a daemon's background load.
        writeStatus: true,
      });
      const k0sText = result.k0sBinaries.length
        ? `; k0s binaries: ${result.k0sBinaries.map((b) => b.name).join(", ")}`
        : "";
      printData(
        ctx.output,
        result,
        () =>
          (result.alreadyLoaded
            ? `Bundle "${path}" was already loaded: ${result.refs.length} references in place`
            : `Loaded "${path}" (k0rdent ${result.k0rdentVersion ?? "unknown"}): ` +
              `${result.refs.length} references, ${result.blobsStored} blobs new ` +
              `(${formatBytes(result.bytesStored)} written), ${result.blobsPresent} reused ` +
              `(${formatBytes(result.bytesPresent)} already stored), ` +
              `${result.seconds.toFixed(1)} s; signature: ${result.verified}`) + k0sText,
      );
    });

  readFlags(
    bundle.command("push")
      .argument("<bundle>", ".tar.gz, .tar or extracted directory")
      .description("Stream the bundle into an existing OCI registry (Harbor, Distribution, Zot)")
      .requiredOption("--to <host[/prefix]>", "target registry and optional repository prefix")
      .option("--username <user>", "registry user (basic auth or token flow)")
      .option("--password-stdin", "read the password from stdin (else env K0RDENTD_PUSH_PASSWORD)")
      .option("--ca-file <file>", "PEM CA certificate the registry's TLS certificate chains to")
      .option("--plain-http", "talk HTTP instead of HTTPS"),
    true,
  )
    .addHelpText(
      "after",
      `
Examples:
  k0rdentd bundle push B.tar.gz --to harbor.example:443/k0rdent-enterprise --cosign-key ./cosign.pub \\
    --username robot --password-stdin < robot.pass --ca-file ./ca.crt
  k0rdentd bundle push B.tar.gz --to 10.0.0.5:5000 --plain-http --verify=false

Blobs stream into <prefix>/bundle-staging (skipped when present), then are mounted into
their repositories; tags are pushed last, after the signature checked out. Rerun to resume.`,
    )
    .action(async (path: string, opts: BundleFlags & PushFlags, cmd: Command) => {
      const ctx = await commandContext(cmd, flagOverrides(cmd, FLAGS));
      const mode = verifyMode(ctx.config, opts);
      const target = parseTarget(opts.to);
      const prefix = target.prefix ?? ctx.config.registry.prefix;
      const password = opts.passwordStdin
        ? await readStdin()
        : Deno.env.get("K0RDENTD_PUSH_PASSWORD");
      if (ctx.dryRun) {
        log.info(`Dry run: would push "${path}" to ${target.host} under "${prefix}"`);
        return;
      }
      const r = await pushBundle({
        bundle: path,
        target: {
          host: target.host,
          plainHttp: opts.plainHttp,
          caFile: opts.caFile,
          username: opts.username,
          password,
        },
        prefix,
        verify: mode,
        key: key(ctx.config),
        signature: opts.signature,
        runner: ctx.runner,
        progress: progressMode(ctx.output),
        decompressor: opts.gunzip,
        signal: ctx.signal,
      });
      printData(
        ctx.output,
        r,
        () =>
          `Pushed "${path}" to ${target.host}: ${r.refs.length} references, ` +
          `${r.blobsUploaded} blobs uploaded, ${r.blobsSkipped} already there, ` +
          `${r.blobsMounted} mounted, ${r.seconds.toFixed(1)} s`,
      );
    });

  readFlags(
    bundle.command("inspect")
      .argument("<bundle>", ".tar.gz, .tar or extracted directory")
      .description("List the k0rdent version, images and charts of a bundle; writes nothing"),
    false,
  )
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd bundle inspect airgap-bundle-1.2.3.tar.gz\n" +
        "  k0rdentd bundle inspect airgap-bundle-1.2.3.tar.gz --output json",
    )
    .action(async (path: string, opts: BundleFlags, cmd: Command) => {
      const ctx = await commandContext(cmd, flagOverrides(cmd, FLAGS));
      const r = await inspectBundle(path, {
        prefix: ctx.config.registry.prefix,
        progress: progressMode(ctx.output),
        decompressor: opts.gunzip,
        signal: ctx.signal,
      });
      printData(ctx.output, r, () => reportText(r));
    });

  readFlags(
    bundle.command("verify")
      .argument("<bundle>", ".tar.gz or .tar (and its .sig)")
      .description("Check the bundle's signature and every blob digest; writes nothing"),
    true,
  )
    .addHelpText(
      "after",
      "\nExamples:\n  k0rdentd bundle verify airgap-bundle-1.2.3.tar.gz --cosign-key ./cosign.pub\n" +
        "  k0rdentd bundle verify ./extracted-bundle --verify=false",
    )
    .action(async (path: string, opts: BundleFlags, cmd: Command) => {
      const ctx = await commandContext(cmd, flagOverrides(cmd, FLAGS));
      const r = await verifyBundle(path, {
        prefix: ctx.config.registry.prefix,
        progress: progressMode(ctx.output),
        decompressor: opts.gunzip,
        signal: ctx.signal,
        mode: verifyMode(ctx.config, opts),
        key: key(ctx.config),
        signature: opts.signature,
        runner: ctx.runner,
      });
      printData(ctx.output, r, () => reportText(r));
    });
}

/**
 * The install model: an {@link InstallContext} every phase runs with, and
 * the {@link Phase} shape (a title, an idempotency check, the work, a
 * dry-run description and a clean-up). The phase list itself is plain data
 * in `phases.ts`.
 */
import type { Config } from "../config/schema.ts";
import type { HelmCli } from "../helm/helm_cli.ts";
import type { HostMutator } from "../host/mutator.ts";
import type { K0sCli } from "../k0s/k0s_cli.ts";
import type { Kubectl } from "../kube/kubectl.ts";
import type { OutputFormat } from "../log/output.ts";
import type { Runner } from "../process/runner.ts";
import type { InstallState } from "./state.ts";
import type { K0rdentVersionSource } from "./resolve.ts";
import type { VerifyMode } from "../bundle/reading/signature.ts";
import type { ReleaseManifest } from "../k0rdent/release_manifest.ts";

/** What the user asked for, beyond the config file. */
export interface InstallOptions {
  /** Air-gap mode: images and charts from the local registry. */
  airgap: boolean;
  /**
   * Online with the local registry as a containerd mirror in front of the upstream
   * registries (which stay the fallback); implied by `airgap`, where there is no fallback.
   */
  mirror: boolean;
  /** A k0s binary to install instead of downloading or extracting one. */
  k0sBinary?: string;
  /** A helm binary to use instead of the one on PATH. */
  helmBinary?: string;
  /** Replace an installed k0s of another version. */
  replaceK0s: boolean;
  /** `upgrade`: move k0rdent or k0s to an older version than the one installed. */
  allowDowngrade: boolean;
  /** `upgrade`: how the new bundle's signature is checked when it is loaded. */
  bundleSignature?: { verify: VerifyMode; key?: string; signature?: string };
  /** Preflight checks whose failures are only warnings; "all" for every check. */
  ignorePreflight: ReadonlySet<string> | "all";
  /** How long to wait for Kubernetes, k0rdent, and any one command. */
  kubernetesTimeoutMs: number;
  k0rdentTimeoutMs: number;
  commandTimeoutMs: number;
  /** Sleep between readiness polls. */
  pollIntervalMs: number;
  /** helm to download when none is on PATH or embedded (online). */
  helmVersion: string;
  /** Base URL of the helm release downloads. */
  helmDownloadUrl: string;
  /** Base URL of the k0s release downloads. */
  k0sDownloadUrl: string;
  /** The CPU architecture as k0s names it (amd64, arm64, arm). */
  arch: string;
}

/** What phases learn and pass on during one run. */
export interface InstallFacts {
  /** The helm used by the k0rdent phases. */
  helm?: HelmCli;
  /** Where `k0rdent.version` came from (a version read from the bundle needs no check). */
  k0rdentVersionSource?: K0rdentVersionSource;
  /** Checks that failed in a dry run: the plan goes on and reports them at its end. */
  preflightFindings?: PreflightFinding[];
  /** `upgrade`: what k0rdent runs before the upgrade (read by its preflight). */
  k0rdentInstalled?: { release: string; version: string };
  /**
   * `upgrade`: the Release object of the target version, once read from kcm-templates; null
   * under dry run when it cannot be read yet (the bundle bringing it is only planned).
   */
  targetRelease?: ReleaseManifest | null;
  /** What the k0s upgrade phase found and did (the upgrade report prints it). */
  k0sUpgrade?: K0sUpgradeReport;
}

/** The k0s upgrade of one run: versions before and after, how, and each node's version. */
export interface K0sUpgradeReport {
  /** The oldest version the cluster ran before (the host's k0s, the nodes). */
  from: string;
  /** The version of the k0s this build or `--k0s-binary` brings. */
  to: string;
  /** `same`: nothing to do; `upgrade`/`downgrade`: the cluster was moved (or would be). */
  change: "upgrade" | "same" | "downgrade";
  /** `swap`: binary replaced and k0s restarted on the single node; `autopilot`: a Plan. */
  method: "swap" | "autopilot";
  /** Each node and the version it reports (kubelet `v1.33.4+k0s`, controllers' k0s version). */
  nodes: { name: string; version: string }[];
}

/** A failed preflight check. */
export interface PreflightFinding {
  check: string;
  problem: string;
}

/** Everything a phase runs with. */
export interface InstallContext {
  config: Config;
  options: InstallOptions;
  host: HostMutator;
  runner: Runner;
  k0s: K0sCli;
  kubectl: Kubectl;
  output: OutputFormat;
  signal: AbortSignal;
  /** What earlier runs recorded; phases update it through `saveState`. */
  state: InstallState;
  facts: InstallFacts;
}

/** One step of the install. */
export interface Phase {
  /** Short stable name, used in messages and logs, e.g. `k0s-binary`. */
  id: string;
  /** What the phase does, e.g. "Install the k0s binary". */
  title: string;
  /** False when the work is already done (idempotency); absent means always run. */
  shouldRun?(ctx: InstallContext): Promise<boolean>;
  /** Does the work; every host change goes through `ctx.host`. */
  run(ctx: InstallContext): Promise<void>;
  /**
   * Under dry-run, the plan lines shown instead of calling `run` (for phases
   * that wait or read results of earlier changes). Phases without it run with
   * the dry-run mutator, which records their changes as the plan.
   */
  dryRun?(ctx: InstallContext): string[];
  /** Undoes partial work after `run` failed, so the next run starts clean. */
  cleanUp?(ctx: InstallContext): Promise<void>;
}

/**
 * `bundle inspect` and `bundle verify`: one pass over the bundle that writes nothing.
 * Inspect lists what a load would tag (k0rdent version, images with digest, platforms and
 * size, charts, totals); verify also re-hashes every blob against its digest and checks the
 * signature natively in the same pass.
 */
import { UserError } from "../../errors.ts";
import type { ProgressMode } from "../../log/progress.ts";
import type { Runner } from "../../process/runner.ts";
import { type BundlePlan, planBundle, readK0rdentVersion, scanBundleWithProgress } from "./scan.ts";
import { readSignatureFiles, SignatureCheck, type VerifyMode } from "./signature.ts";
import { checkSignaturePass } from "./signature_pass.ts";
import { DrainSink, HashSink } from "../loading/sinks.ts";
import { type Decompressor, statBundle } from "./source.ts";

/** One image or chart of a report. */
export interface ReportImage {
  reference: string;
  digest: string;
  mediaType: string;
  platforms: string[];
  size: number;
  chart: boolean;
  file: string;
}

/** What `inspect` and `verify` print. */
export interface BundleReport {
  bundle: string;
  k0rdentVersion?: string;
  images: ReportImage[];
  charts: ReportImage[];
  skipped: { path: string; reason: string }[];
  totals: { images: number; charts: number; bytes: number; bundleBytes: number };
  /** Set by verify. */
  signature?: "verified" | "not checked";
  blobsVerified?: number;
}

/** Options of {@link inspectBundle}. */
export interface InspectOptions {
  prefix: string;
  progress?: ProgressMode;
  decompressor?: Decompressor;
  signal?: AbortSignal;
  /** Verify: hash every blob, and check the signature with this key unless undefined. */
  verify?: { key?: string; signature?: string; checkSignature: boolean };
}

function report(
  bundle: string,
  bundleBytes: number,
  plan: BundlePlan,
  k0rdentVersion: string | undefined,
): BundleReport {
  const all = plan.images.map((i) => ({
    reference: `${i.repository}:${i.tag}`,
    digest: i.digest,
    mediaType: i.mediaType,
    platforms: i.platforms,
    size: i.size,
    chart: i.chart,
    file: i.path,
  }));
  const images = all.filter((i) => !i.chart);
  const charts = all.filter((i) => i.chart);
  return {
    bundle,
    k0rdentVersion,
    images,
    charts,
    skipped: plan.skipped,
    totals: {
      images: images.length,
      charts: charts.length,
      bytes: all.reduce((a, i) => a + i.size, 0),
      bundleBytes,
    },
  };
}

/** What `bundle verify --verify=false` still does, for the advice in errors. */
const DIGESTS_ONLY = "check the blob digests only";

/** Options of {@link verifyBundle}. */
export interface VerifyBundleOptions extends Omit<InspectOptions, "verify"> {
  /** `native`: in the pass; `cosign`: a pass of its own first; `off`: blob digests only. */
  mode: VerifyMode;
  key?: string;
  signature?: string;
  runner: Runner;
}

/** `bundle verify`: the signature as `mode` says, then every blob digest in one pass. */
export async function verifyBundle(
  path: string,
  options: VerifyBundleOptions,
): Promise<BundleReport> {
  const { mode, key, signature, runner, ...inspect } = options;
  if (mode !== "native") {
    await checkSignaturePass(path, {
      verify: mode,
      key,
      signature,
      runner,
      signal: options.signal,
    });
  }
  return await inspectBundle(path, {
    ...inspect,
    verify: { key, signature, checkSignature: mode === "native" },
  });
}

/** Reads the bundle once and reports what it holds; with `verify`, checks it too. */
export async function inspectBundle(path: string, options: InspectOptions): Promise<BundleReport> {
  const info = await statBundle(path);
  let check: SignatureCheck | undefined;
  if (options.verify?.checkSignature) {
    if (info.kind === "dir") {
      throw new UserError(
        `Cannot verify bundle "${path}": a directory has no signature; pass --verify=false ` +
          `to ${DIGESTS_ONLY}`,
      );
    }
    const { key, signature } = await readSignatureFiles(path, options.verify, DIGESTS_ONLY);
    check = new SignatureCheck(key, signature);
  }
  const sink = options.verify ? new HashSink() : new DrainSink();
  const scan = await scanBundleWithProgress(info, sink, {
    label: options.verify ? "Verifying bundle" : "Reading bundle",
    mode: options.progress,
  }, { decompressor: options.decompressor, signal: options.signal, hash: check });
  const plan = planBundle(path, scan, options.prefix);
  if (check && !check.verify()) {
    throw new UserError(
      `Signature check of bundle "${path}" failed: the signature does not match the bundle ` +
        `and key "${options.verify?.key}"`,
    );
  }
  const out = report(path, info.size, plan, await readK0rdentVersion(path, plan, sink));
  if (options.verify) {
    out.signature = check ? "verified" : "not checked";
    out.blobsVerified = (sink as HashSink).stats.present;
  }
  return out;
}

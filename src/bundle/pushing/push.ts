/**
 * `bundle push B --to HOST[/PREFIX]`: streams the bundle into any OCI registry in one pass.
 * Which repository an archive belongs to is only certain at the end of the pass (a lone
 * top-level folder is the bundle root), so blobs are uploaded as they stream by into one
 * staging repository (`<prefix>/bundle-staging`), skipping blobs it already has (HEAD); then
 * every image's blobs are cross-repository mounted into their repository, manifests are put
 * children first and tags last, only after the signature checked out. A rerun resumes: every
 * blob already uploaded is read past.
 */
import { UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import type { ProgressMode } from "../../log/progress.ts";
import type { LoadedRef } from "../loading/load_state.ts";
import type { BlobSink } from "../reading/oci_archive.ts";
import type { Runner } from "../../process/runner.ts";
import { RegistryClient, type RegistryTarget } from "./registry_client.ts";
import { planBundle, scanBundleWithProgress } from "../reading/scan.ts";
import { readSignatureFiles, SignatureCheck, type VerifyMode } from "../reading/signature.ts";
import { checkSignaturePass } from "../reading/signature_pass.ts";
import { skipBody } from "../reading/tar_walk.ts";
import { type Decompressor, statBundle } from "../reading/source.ts";

/** Splits `HOST[:PORT][/PREFIX]`. */
export function parseTarget(to: string): { host: string; prefix?: string } {
  const clean = to.replace(/^[a-z]+:\/\//i, "").replace(/\/+$/, "");
  const slash = clean.indexOf("/");
  if (!clean || slash === 0) {
    throw new UserError(`Invalid --to "${to}": expected HOST[:PORT][/PREFIX]`);
  }
  return slash < 0
    ? { host: clean }
    : { host: clean.slice(0, slash), prefix: clean.slice(slash + 1) };
}

/** Options of {@link pushBundle}. */
export interface PushOptions {
  bundle: string;
  /** The registry pushed to (the client is opened once the signature may be checked). */
  target: RegistryTarget;
  prefix: string;
  /**
   * How the signature is checked: `native` in the push's one pass (no tag is pushed unless it
   * matches), `cosign` in a pass of its own first, `off` not at all.
   */
  verify: VerifyMode;
  /** PEM public key (required unless `verify` is `off`). */
  key?: string;
  /** Detached signature; default `<bundle>.sig`. */
  signature?: string;
  runner: Runner;
  progress?: ProgressMode;
  decompressor?: Decompressor;
  signal?: AbortSignal;
}

/** What a push did. */
export interface PushResult {
  refs: LoadedRef[];
  blobsUploaded: number;
  blobsSkipped: number;
  blobsMounted: number;
  seconds: number;
}

class PushSink implements BlobSink {
  uploaded = 0;
  skipped = 0;
  readonly #seen = new Set<string>();
  constructor(readonly client: RegistryClient, readonly staging: string) {}

  async put(digest: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    if (this.#seen.has(digest) || await this.client.hasBlob(this.staging, digest)) {
      this.#seen.add(digest);
      this.skipped++;
      await skipBody(body);
      return;
    }
    await this.client.uploadBlob(this.staging, digest, size, body);
    this.#seen.add(digest);
    this.uploaded++;
  }

  read(): Promise<Uint8Array | undefined> {
    return Promise.resolve(undefined);
  }
}

/** The staging repository of a prefix. */
export function stagingRepository(prefix: string): string {
  return prefix ? `${prefix}/bundle-staging` : "k0rdentd-bundle-staging";
}

/** Pushes the bundle; see the module comment. */
export async function pushBundle(options: PushOptions): Promise<PushResult> {
  if (options.verify !== "native") {
    await checkSignaturePass(options.bundle, options);
  }
  const client = await RegistryClient.open(options.target);
  try {
    return await pushWith(client, options);
  } finally {
    client.close();
  }
}

async function pushWith(client: RegistryClient, options: PushOptions): Promise<PushResult> {
  const started = performance.now();
  const info = await statBundle(options.bundle);
  let check: SignatureCheck | undefined;
  if (options.verify === "native") {
    if (info.kind === "dir") {
      throw new UserError(
        `Cannot verify bundle "${info.path}": a directory has no signature; pass --verify=false`,
      );
    }
    const { key, signature } = await readSignatureFiles(
      info.path,
      { key: options.key, signature: options.signature },
      "push without checking",
    );
    check = new SignatureCheck(key, signature);
  }
  const staging = stagingRepository(options.prefix);
  const sink = new PushSink(client, staging);
  let archives = 0;
  const scan = await scanBundleWithProgress(info, sink, {
    label: `Pushing bundle to ${client.target.host}`,
    mode: options.progress,
    items: () => ({ done: archives, total: archives }),
  }, {
    decompressor: options.decompressor,
    signal: options.signal,
    hash: check,
    onArchive: () => void archives++,
  });
  const plan = planBundle(info.path, scan, options.prefix);
  if (check && !check.verify()) {
    throw new UserError(
      `Signature check of bundle "${info.path}" failed: the signature does not match; ` +
        `no tag was pushed`,
    );
  }
  let mounted = 0;
  const refs: LoadedRef[] = [];
  for (const image of plan.images) {
    const repo = image.repository;
    for (const m of image.contents.manifests) {
      for (const blob of m.blobs) {
        if (await client.hasBlob(repo, blob)) continue;
        if (!(await client.mountBlob(repo, blob, staging))) {
          throw new UserError(
            `Registry "${client.target.host}" did not mount blob "${blob}" from ` +
              `"${staging}" into "${repo}" (cross-repository mount is required)`,
          );
        }
        mounted++;
      }
      const top = m.digest === image.digest;
      await client.putManifest(repo, top ? image.tag : m.digest, m.bytes, m.mediaType);
    }
    refs.push({ repository: repo, tag: image.tag, digest: image.digest });
    log.debug(`Pushed ${repo}:${image.tag}`);
  }
  return {
    refs,
    blobsUploaded: sink.uploaded,
    blobsSkipped: sink.skipped,
    blobsMounted: mounted,
    seconds: (performance.now() - started) / 1000,
  };
}

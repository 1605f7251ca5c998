/**
 * A bundle's signature checked in a pass of its own, before the work that reads the bundle:
 * `cosign verify-blob` (offline), or the native check over the whole file. The native load
 * checks in its one pass instead; the skopeo importer, `bundle push` with cosign and
 * `bundle verify` with cosign use this.
 */
import { UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { runChecked, type Runner } from "../../process/runner.ts";
import {
  cosignVerifyArgv,
  readSignatureFiles,
  signaturePath,
  verifyFileSignature,
  type VerifyMode,
} from "./signature.ts";

/** Checks the bundle's signature with `cosign verify-blob` (offline) as a separate pass. */
export async function verifyWithCosign(
  runner: Runner,
  bundle: string,
  key: string | undefined,
  signature: string | undefined,
  signal?: AbortSignal,
): Promise<void> {
  // Same checks and messages as the native verifier for missing files.
  await readSignatureFiles(bundle, { key, signature });
  log.info(`Verifying the signature of "${bundle}" with cosign`);
  try {
    await runChecked(
      runner,
      cosignVerifyArgv(bundle, { key: key!, signature: signature ?? signaturePath(bundle) }),
      { signal },
    );
  } catch (err) {
    throw new UserError(`Signature check of bundle "${bundle}" failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Options of {@link checkSignaturePass}. */
export interface SignaturePassOptions {
  verify: VerifyMode;
  /** PEM public key (required unless `verify` is `off`). */
  key?: string;
  /** Detached signature; default `<bundle>.sig`. */
  signature?: string;
  runner: Runner;
  signal?: AbortSignal;
}

/** Checks the signature of `bundle` as `verify` says, in a pass of its own (`off`: a warning). */
export async function checkSignaturePass(
  bundle: string,
  options: SignaturePassOptions,
): Promise<void> {
  const { verify: mode, key, signature } = options;
  if (mode === "off") log.warn(`Not checking the signature of "${bundle}" (--verify=false)`);
  else if (mode === "cosign") {
    await verifyWithCosign(options.runner, bundle, key, signature, options.signal);
  } else await verifyFileSignature(bundle, { key, signature });
}

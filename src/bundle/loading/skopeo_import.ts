/**
 * `bundle load --importer skopeo`: the extract-then-copy method (skopeo copies into the registry), kept as an alternative and as
 * the benchmark baseline. The bundle is extracted to a temp dir, the registry is served on
 * 127.0.0.1 over the storage (`serveLoopbackRegistry`), and
 * `skopeo copy oci-archive:F docker://HOST/REPO:TAG` runs for every archive, 5 at a time.
 * Names follow the same rules as the native load. {@link importWithSkopeo} is the whole
 * foreground command: signature pass, import, k0s binaries beside the bundle.
 */
import { join } from "node:path";
import { UserError } from "../../errors.ts";
import { log } from "../../log/logger.ts";
import { runChecked, type Runner } from "../../process/runner.ts";
import { serveLoopbackRegistry } from "../../registry/server.ts";
import type { RegistryStorage } from "../../registry/storage/storage.ts";
import type { LoadedRef } from "./load_state.ts";
import { archiveReference, fileKind, loneTopFolder, NamingError } from "../reading/naming.ts";
import { checkSignaturePass } from "../reading/signature_pass.ts";
import type { VerifyMode } from "../reading/signature.ts";
import { bundleError, statBundle } from "../reading/source.ts";
import type { StoredK0sBinary } from "./k0s_binaries.ts";
import { storeK0sBinariesBeside } from "./load.ts";

/** Options of {@link skopeoImport}. */
export interface SkopeoImportOptions {
  bundle: string;
  /** The registry storage to import into. */
  storage: RegistryStorage;
  prefix: string;
  runner: Runner;
  signal?: AbortSignal;
  /** Parallel skopeo copies (default 5). */
  parallel?: number;
  /** Where to extract (default: the system temp dir). */
  tempDir?: string;
}

async function listFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const full = join(dir, e.name);
    if (e.isDirectory) out.push(...await listFiles(root, full));
    else if (e.isFile) out.push(full.slice(root.length + 1));
  }
  return out.sort();
}

/** The `org.opencontainers.image.ref.name` annotation in an archive's index.json, if any. */
async function refName(options: SkopeoImportOptions, file: string): Promise<string | undefined> {
  const res = await options.runner.run(["tar", "--force-local", "-xOf", file, "index.json"], {
    signal: options.signal,
  });
  try {
    return JSON.parse(res.stdout).manifests?.[0]?.annotations?.[
      "org.opencontainers.image.ref.name"
    ];
  } catch {
    return undefined;
  }
}

/** Imports the bundle with skopeo; returns the references it pushed. */
export async function skopeoImport(options: SkopeoImportOptions): Promise<LoadedRef[]> {
  const info = await statBundle(options.bundle);
  const temp = await Deno.makeTempDir({ dir: options.tempDir, prefix: "k0rdentd-bundle-" });
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  try {
    let root = options.bundle;
    if (info.kind !== "dir") {
      log.info(`Extracting "${options.bundle}" to "${temp}"`);
      await runChecked(options.runner, ["tar", "-xf", options.bundle, "-C", temp], {
        signal: options.signal,
      });
      root = temp;
    }
    const all = await listFiles(root);
    const top = loneTopFolder(all);
    const archives = all.filter((p) => fileKind(p) === "archive");
    const jobs: { file: string; repository: string; tag: string }[] = [];
    for (const p of archives) {
      const rel = top ? p.slice(top.length + 1) : p;
      let file = join(root, p);
      if (file.includes(":")) {
        // skopeo reads "oci-archive:a:b.tar" as path "a" and reference "b.tar".
        const plain = join(temp, `.archive-${jobs.length}.tar`);
        await Deno.symlink(file, plain);
        file = plain;
      }
      try {
        jobs.push({ file, ...archiveReference(rel, options.prefix, await refName(options, file)) });
      } catch (err) {
        if (!(err instanceof NamingError)) throw err;
        throw bundleError(options.bundle, `archive "${p}": ${err.message}`);
      }
    }
    // The registry's HTTP app on the storage, on loopback (pushes from loopback are allowed).
    const storage = options.storage;
    const server = serveLoopbackRegistry(storage, stop.signal);
    const port = server.port;
    const refs: LoadedRef[] = [];
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        await runChecked(options.runner, [
          "skopeo",
          "copy",
          "--all",
          "--preserve-digests",
          "--dest-tls-verify=false",
          `oci-archive:${job.file}`,
          `docker://127.0.0.1:${port}/${job.repository}:${job.tag}`,
        ], { signal: options.signal });
      }
    };
    await Promise.all(Array.from({ length: options.parallel ?? 5 }, worker));
    stop.abort();
    await server.finished;
    for (const { repository, tag } of jobs) {
      refs.push({ repository, tag, digest: (await storage.resolveTag(repository, tag)) ?? "" });
    }
    return refs;
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `Cannot import bundle "${options.bundle}" with skopeo: ${(err as Error).message}`,
    );
  } finally {
    stop.abort();
    await Deno.remove(temp, { recursive: true }).catch(() => {});
  }
}

/** Options of {@link importWithSkopeo}. */
export interface SkopeoLoadOptions extends SkopeoImportOptions {
  verify: VerifyMode;
  /** PEM public key (required unless `verify` is `off`). */
  key?: string;
  /** Detached signature; default `<bundle>.sig`. */
  signature?: string;
}

/** What {@link importWithSkopeo} did. */
export interface SkopeoLoadResult {
  bundle: string;
  importer: "skopeo";
  refs: LoadedRef[];
  /** The k0s binaries stored from beside the bundle. */
  k0sBinaries: StoredK0sBinary[];
}

/**
 * `bundle load --importer skopeo` as a whole: the signature in a pass of its own (skopeo reads
 * the extracted files, so nothing can be checked in its pass), {@link skopeoImport}, then the
 * k0s binaries lying beside the bundle (checked with the same key unless `verify` is off).
 */
export async function importWithSkopeo(options: SkopeoLoadOptions): Promise<SkopeoLoadResult> {
  await checkSignaturePass(options.bundle, options);
  const refs = await skopeoImport(options);
  // No journal records a skopeo import: the binaries are stored, not recorded.
  const k0sBinaries = await storeK0sBinariesBeside(options);
  return { bundle: options.bundle, importer: "skopeo", refs, k0sBinaries };
}

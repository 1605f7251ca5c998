/**
 * Writes a worker bundle (layout in `layout.ts`) into a staging directory beside the target
 * and then moves it into place, or packs it into a `.tar.gz`; a failure leaves nothing behind.
 */
import { basename, dirname, join, posix } from "node:path";
import { errorMessage, UserError } from "../errors.ts";
import { writeTarAtomic } from "../fsx/atomic_tar.ts";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { HOST } from "../host/paths.ts";
import type { GeneratedFile } from "../k0s/containerd_mirrors.ts";
import { writeChecksums } from "./checksums.ts";
import { renderInstallScript } from "./install_script.ts";
import {
  BUNDLE,
  type HostFile,
  imageArchiveFile,
  k0sBinaryFile,
  mirroredHostFile,
} from "./layout.ts";
import { renderReadme } from "./readme.ts";
import { pathExists } from "../fsx/exists.ts";

/** Everything that goes into a bundle. */
export interface BundleContent {
  /** Version of the bundled k0s binary. */
  k0sVersion: string;
  /** k0rdentd version, for the generated files. */
  generator: string;
  /** Writes the k0s binary to `target` (extracted from the assets or copied). */
  writeK0s(target: string): Promise<void>;
  /** containerd drop-ins from the shared generator, relative to `/etc/k0s/containerd.d`. */
  dropIns: readonly GeneratedFile[];
  /** The registry the drop-ins point at. */
  registry?: { address: string; insecure: boolean };
  /** A worker join token and its lifetime. */
  token?: { value: string; expiry: string };
  /** Writes the system images archive to `target` with the bundled `k0s` (`--with-images`). */
  writeImages?(target: string, k0s: string): Promise<void>;
}

/** Where the bundle goes: a directory, or a `.tar.gz` holding `worker-bundle/`. */
export type BundleTarget = { dir: string; overwrite: boolean } | {
  archive: string;
  overwrite: boolean;
};

/** What was written. */
export interface BundleSummary {
  /** The directory or archive written. */
  path: string;
  /** Bundle-relative file names, sorted. */
  files: string[];
  token: boolean;
  images: boolean;
}

/** Writes the bundle files into `dir` (an empty, private directory). Returns the file names. */
export async function writeBundleFiles(dir: string, content: BundleContent): Promise<string[]> {
  const hostFiles: HostFile[] = [k0sBinaryFile()];
  await content.writeK0s(join(dir, BUNDLE.k0sBinary));
  await Deno.chmod(join(dir, BUNDLE.k0sBinary), 0o755);
  for (const file of content.dropIns) {
    const entry = mirroredHostFile(posix.join(HOST.containerdDropIns, file.path), file.mode);
    await writeFileAtomic(join(dir, entry.source), file.content, {
      mode: entry.mode,
      mkdirMode: 0o700,
    });
    hostFiles.push(entry);
  }
  if (content.writeImages) {
    await Deno.mkdir(join(dir, BUNDLE.imagesDir), { mode: 0o700 });
    await content.writeImages(join(dir, BUNDLE.systemImages), join(dir, BUNDLE.k0sBinary));
    hostFiles.push(imageArchiveFile(BUNDLE.systemImages));
  }
  if (content.token) {
    await writeFileAtomic(join(dir, BUNDLE.token), content.token.value + "\n", { mode: 0o600 });
  }
  const caFile = hostFiles.find((f) => f.source.endsWith("/ca.crt"))?.source;
  await writeFileAtomic(
    join(dir, BUNDLE.installScript),
    renderInstallScript({
      k0sVersion: content.k0sVersion,
      generator: content.generator,
      files: hostFiles,
    }),
    { mode: 0o755 },
  );
  await writeFileAtomic(
    join(dir, BUNDLE.readme),
    renderReadme({
      k0sVersion: content.k0sVersion,
      generator: content.generator,
      registry: content.registry && { ...content.registry, caFile },
      token: content.token !== undefined,
      expiry: content.token?.expiry,
      files: hostFiles,
    }),
    { mode: 0o644 },
  );
  const summed = [...hostFiles.map((f) => f.source), BUNDLE.installScript, BUNDLE.readme];
  await writeChecksums(dir, BUNDLE.checksums, summed);
  const all = [...summed, BUNDLE.checksums, ...(content.token ? [BUNDLE.token] : [])];
  return all.sort();
}

/**
 * Throws a UserError when `target` exists and may not be overwritten. `--overwrite` replaces (and
 * deletes) only an earlier bundle: a directory holding install.sh and SHA256SUMS, or an empty one,
 * or a file for `--archive`; never, say, a home directory given by mistake.
 */
export async function checkBundleTarget(target: BundleTarget): Promise<void> {
  const path = "dir" in target ? target.dir : target.archive;
  if (!await pathExists(path)) return;
  if (!target.overwrite) {
    throw new UserError(
      `Cannot write worker bundle "${path}": it already exists (use --overwrite)`,
    );
  }
  const info = await Deno.lstat(path);
  if ("archive" in target) {
    if (info.isFile) return;
    throw new UserError(`Cannot replace "${path}" with a worker bundle archive: it is not a file`);
  }
  if (info.isDirectory) {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    if (names.length === 0) return;
    if (names.includes(BUNDLE.installScript) && names.includes(BUNDLE.checksums)) return;
  }
  throw new UserError(
    `Cannot replace "${path}": it is not a worker bundle (no ${BUNDLE.installScript} and ${BUNDLE.checksums}); --overwrite replaces only an earlier bundle`,
  );
}

/** Writes the bundle to `target`. Existing output is an error unless `overwrite`. */
export async function writeBundle(
  target: BundleTarget,
  content: BundleContent,
): Promise<BundleSummary> {
  const path = "dir" in target ? target.dir : target.archive;
  await checkBundleTarget(target);
  const parent = dirname(path);
  try {
    await Deno.mkdir(parent, { recursive: true });
  } catch (err) {
    throw new UserError(`Cannot write worker bundle "${path}": ${errorMessage(err)}`);
  }
  const staging = join(parent, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  await Deno.mkdir(staging, { mode: 0o700 });
  await Deno.chmod(staging, 0o700);
  try {
    const files = await writeBundleFiles(staging, content);
    if ("dir" in target) await replaceDir(staging, path);
    else await packArchive(staging, path);
    return { path, files, token: content.token !== undefined, images: !!content.writeImages };
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
}

/** Moves `staging` to `dir`, replacing an existing `dir` only once the new one is complete. */
async function replaceDir(staging: string, dir: string): Promise<void> {
  if (!await pathExists(dir)) return await Deno.rename(staging, dir);
  const old = `${staging}.old`;
  await Deno.rename(dir, old);
  await Deno.rename(staging, dir);
  await Deno.remove(old, { recursive: true });
}

/** Top-level folder inside an archive. */
const ARCHIVE_ROOT = "worker-bundle";

/** Packs `dir` as `worker-bundle/` into a gzipped tar at `archive` (mode 0600: it holds the token). */
async function packArchive(dir: string, archive: string): Promise<void> {
  await writeTarAtomic(archive, async (controller) => {
    const add = async (rel: string): Promise<void> => {
      const full = join(dir, rel);
      const info = await Deno.lstat(full);
      const name = posix.join(ARCHIVE_ROOT, rel);
      const mode = (info.mode ?? 0o644) & 0o777;
      const mtime = info.mtime ?? new Date();
      if (info.isDirectory) {
        await controller.add({ name: name + "/", type: "directory", size: 0, mode, mtime }).close();
        const names: string[] = [];
        for await (const e of Deno.readDir(full)) names.push(e.name);
        for (const n of names.sort()) await add(rel ? posix.join(rel, n) : n);
        return;
      }
      const file = await Deno.open(full);
      await file.readable.pipeTo(controller.add({ name, size: info.size, mode, mtime }));
    };
    await add("");
  }, { mode: 0o600, gzip: true });
}

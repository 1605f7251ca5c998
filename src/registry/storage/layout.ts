/**
 * Every path inside the registry's storage directory, computed here and nowhere else.
 *
 * ```text
 * <storage>/
 * ├── blobs/                              content store, shared by all repositories
 * │   ├── sha256/<h0h1>/<hex>             one immutable file per blob (layers, configs, manifests)
 * │   └── sha512/<h0h1>/<hex>
 * ├── uploads/
 * │   ├── <uuid>                          data of one upload in progress (hashed as it is written;
 * │   │                                   renamed into blobs/ once digest and size are checked)
 * │   └── <uuid>.session                  JSON of an HTTP upload session: the repository it is
 * │                                       bound to, the client that started it, when
 * ├── repositories/
 * │   └── <name/with/slashes>/            a repository (name components never start with "_")
 * │       ├── _layers/<alg>/<hex>         empty file: the blob is linked into this repository
 * │       ├── _manifests/
 * │       │   ├── revisions/<alg>/<hex>   empty file: the manifest (a blob) belongs here
 * │       │   └── tags/<tag>              text file holding a manifest digest (atomic rename)
 * │       └── _referrers/<alg>/<subject-hex>/<alg>-<hex>
 * │                                       empty file: manifest <alg>:<hex> has that subject
 * ├── files/
 * │   └── k0s/                            k0s binaries for child clusters (`--files-port`)
 * │       ├── k0s-<version>-<arch>        a release binary under its unchanged name (written to
 * │       │                               `uploads/<uuid>` first, renamed here once checked)
 * │       └── k0s-<version>-<arch>.sig    its cosign signature, when it came with one
 * ├── sync/
 * │   ├── status.json                     replication state per `--sync-from` source (read by
 * │   │                                   `registry status`)
 * │   └── partial/<alg>-<hex>             the upload id a blob copy is streaming into, kept until
 * │                                       it is stored: a copy cut off (crash, lost connection)
 * │                                       resumes from the upload's size
 * ├── generation                          grows by one byte after every change to a tag, manifest
 * │                                       or link by any process (`metadata_index.ts`): a
 * │                                       daemon holding it open sees other writers at once
 * ├── tls/                                `--tls auto` material (`tls.ts`), written by openssl in a
 * │   │                                   `.gen-*` temp dir here and renamed into place
 * │   ├── ca.key, ca.crt                  the CA (both keys are mode 0600)
 * │   ├── server.key, server.crt          the server certificate the CA signed
 * │   └── server.sans                     the names it was issued for (a change reissues it)
 * └── bundle/                             written by bundle loads (`src/bundle/loading/`), read
 *     │                                   by `registry status` and `registry gc`; never served
 *     ├── loads/<id>.json                 journal of one bundle (path, size, mtime, prefix):
 *     │                                   "loading" or "complete" with the references it tagged
 *     ├── status.json                     progress and outcome of the latest load (read by
 *     │                                   `registry status`)
 *     └── in_use.json                     the k0rdent version the cluster runs (gc keeps its tags)
 * ```
 *
 * Every write is a temp file plus `rename`, so a blob, link, tag or file is fully
 * present or absent after a crash; temp files start with "." (tags, signatures) or
 * live in `uploads/` (blobs, k0s binaries) and are never listed. Nothing in memory is needed to read
 * the layout, so several processes can share one directory.
 */
import { join } from "node:path";
import { type DigestAlgorithm, parseDigest } from "../digest.ts";
import { checkRepositoryName, checkTag, isK0sFileName } from "../names.ts";

/** Directory of the content store. */
export const BLOBS_DIR = "blobs";
/** Directory of uploads in progress. */
export const UPLOADS_DIR = "uploads";
/** Directory of repositories. */
export const REPOSITORIES_DIR = "repositories";
/** Directory of the files served over plain HTTP beside the registry. */
export const FILES_DIR = "files";
/** Directory of the replication (`--sync-from`) state. */
export const SYNC_DIR = "sync";
/** Directory of `--tls auto` material. */
export const TLS_DIR = "tls";
/** Directory of the bundle loads' journals and status. */
export const BUNDLE_DIR = "bundle";
/** Marker directory that makes a directory under `repositories/` a repository. */
export const MANIFESTS_DIR = "_manifests";

const UPLOAD_ID_RE = /^[a-f0-9-]{36}$/;
/** A journal id: one path component, not hidden (the load names them by a hash). */
const JOURNAL_ID_RE = /^[^/.\\][^/\\]*$/;

/** A file of the `--tls auto` material in `tls/`. */
export type TlsFile = "ca.key" | "ca.crt" | "server.key" | "server.crt" | "server.sans";

/** True when `id` has the shape of an upload id (a UUID). */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID_RE.test(id);
}

/** Path computations relative to the storage root; every argument is validated first. */
export const layout = {
  /** `blobs/<alg>/<h0h1>/<hex>`. */
  blob(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(BLOBS_DIR, algorithm, hex.slice(0, 2), hex);
  },
  /** `blobs/<alg>`. */
  blobs(algorithm: DigestAlgorithm): string {
    return join(BLOBS_DIR, algorithm);
  },
  /** `blobs/<alg>/<h0h1>`: one fan-out directory of the content store (as listed). */
  blobPrefix(algorithm: DigestAlgorithm, prefix: string): string {
    return join(layout.blobs(algorithm), prefix);
  },
  /** `uploads/<id>`. */
  upload(id: string): string {
    if (!isUploadId(id)) throw new Error(`Invalid upload id "${id}"`);
    return join(UPLOADS_DIR, id);
  },
  /** `uploads/<id>.session`. */
  uploadSession(id: string): string {
    return `${layout.upload(id)}.session`;
  },
  /** The upload id a file name in `uploads/` is the session record of, or undefined. */
  sessionId(fileName: string): string | undefined {
    const id = fileName.endsWith(".session") ? fileName.slice(0, -".session".length) : "";
    return isUploadId(id) ? id : undefined;
  },
  /** `generation`: the change counter of repository metadata (see `metadata_index.ts`). */
  generation(): string {
    return "generation";
  },
  /** `repositories/<name>`. */
  repository(name: string): string {
    checkRepositoryName(name);
    return join(REPOSITORIES_DIR, name);
  },
  /**
   * `repositories/<path>`: a directory met while walking `repositories/` for repositories
   * (`path` is made of listed names, not validated: a foreign directory is walked past).
   */
  repositoryWalk(path: string): string {
    return path ? join(REPOSITORIES_DIR, path) : REPOSITORIES_DIR;
  },
  /** `repositories/<name>/_manifests`: present once a push reached the repository. */
  manifests(name: string): string {
    return join(layout.repository(name), MANIFESTS_DIR);
  },
  /** `<dir>/<alg>`: the algorithm level of a `<dir>/<alg>/<hex>` tree of digest links. */
  digestLinks(dir: string, algorithm: DigestAlgorithm): string {
    return join(dir, algorithm);
  },
  /** `repositories/<name>/_layers/<alg>/<hex>`. */
  blobLink(name: string, digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(layout.repository(name), "_layers", algorithm, hex);
  },
  /** `repositories/<name>/_layers`. */
  blobLinks(name: string): string {
    return join(layout.repository(name), "_layers");
  },
  /** `repositories/<name>/_manifests/revisions/<alg>/<hex>`. */
  revision(name: string, digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(layout.repository(name), MANIFESTS_DIR, "revisions", algorithm, hex);
  },
  /** `repositories/<name>/_manifests/revisions`. */
  revisions(name: string): string {
    return join(layout.repository(name), MANIFESTS_DIR, "revisions");
  },
  /** `repositories/<name>/_manifests/tags/<tag>`. */
  tag(name: string, tag: string): string {
    checkTag(tag);
    return join(layout.repository(name), MANIFESTS_DIR, "tags", tag);
  },
  /** `repositories/<name>/_manifests/tags`. */
  tags(name: string): string {
    return join(layout.repository(name), MANIFESTS_DIR, "tags");
  },
  /** `repositories/<name>/_manifests/tags/.<x>.tmp`: a temp file of an interrupted tag write. */
  tagTemp(name: string, fileName: string): string {
    if (!/^\.[^/]*\.tmp$/.test(fileName)) throw new Error(`Invalid tag temp file "${fileName}"`);
    return join(layout.tags(name), fileName);
  },
  /** `repositories/<name>/_referrers/<alg>/<subject-hex>`. */
  referrers(name: string, subject: string): string {
    const { algorithm, hex } = parseDigest(subject);
    return join(layout.repository(name), "_referrers", algorithm, hex);
  },
  /** `repositories/<name>/_referrers/<alg>/<subject-hex>/<alg>-<hex>`. */
  referrer(name: string, subject: string, digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(layout.referrers(name, subject), `${algorithm}-${hex}`);
  },
  /** The digest a referrer link's file name stands for, or undefined for a foreign file. */
  referrerDigest(fileName: string): string | undefined {
    const m = /^(sha256|sha512)-([a-f0-9]+)$/.exec(fileName);
    return m ? `${m[1]}:${m[2]}` : undefined;
  },
  /** `files/k0s`. */
  k0sFiles(): string {
    return join(FILES_DIR, "k0s");
  },
  /** `files/k0s/<name>`: a k0s binary (`k0s-<version>-<arch>`) or its `.sig`. */
  k0sFile(name: string): string {
    if (!isK0sFileName(name)) throw new Error(`Invalid k0s binary file name "${name}"`);
    return join(layout.k0sFiles(), name);
  },
  /** `sync/status.json`. */
  syncStatus(): string {
    return join(SYNC_DIR, "status.json");
  },
  /** `sync/partial/<alg>-<hex>`: the upload a copy of blob `digest` streams into. */
  syncPartial(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(SYNC_DIR, "partial", `${algorithm}-${hex}`);
  },
  /** `tls`: the `--tls auto` material. */
  tlsDir(): string {
    return TLS_DIR;
  },
  /** `tls/<file>`. */
  tls(file: TlsFile): string {
    return join(TLS_DIR, file);
  },
  /** `bundle`: what bundle loads record (its presence says a bundle was loaded here). */
  bundleState(): string {
    return BUNDLE_DIR;
  },
  /** `bundle/status.json`: progress and outcome of the latest load. */
  bundleStatus(): string {
    return join(BUNDLE_DIR, "status.json");
  },
  /** `bundle/loads`: the load journals. */
  bundleJournals(): string {
    return join(BUNDLE_DIR, "loads");
  },
  /** `bundle/loads/<id>.json`: the journal of one bundle loaded with one prefix. */
  bundleJournal(id: string): string {
    if (!JOURNAL_ID_RE.test(id)) throw new Error(`Invalid bundle journal id "${id}"`);
    return join(layout.bundleJournals(), `${id}.json`);
  },
  /** `bundle/in_use.json`: the k0rdent version marked in use. */
  inUse(): string {
    return join(BUNDLE_DIR, "in_use.json");
  },
};

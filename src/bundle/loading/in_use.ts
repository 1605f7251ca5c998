/**
 * The k0rdent version the cluster runs, marked in the registry storage
 * (`<storage>/bundle/in_use.json`, path in `src/registry/storage/layout.ts`) by install and upgrade once the
 * cluster's Management references it; `registry gc --keep-bundles` never removes the tags of
 * that version, however old.
 */
import { UserError } from "../../errors.ts";
import { writeFileAtomic } from "../../fsx/atomic_write.ts";
import { inUsePath } from "./load_state.ts";
import { versionKey } from "./records.ts";

/** The content of `in_use.json`. */
export interface InUseMark {
  /** The version as it was marked (`1.2.0`, `v1.2.0` or the chart tag form). */
  k0rdentVersion: string;
  markedAt: string;
}

/** The file is a few dozen bytes; anything larger is not ours. */
const MAX_MARK_BYTES = 4096;

/**
 * Marks `k0rdentVersion` (SemVer as the bundle names it: `1.2.0`, `v1.2.0`, `1.2.0_build.1`) as
 * the one in use, replacing the previous mark (call it when the cluster's Management has moved
 * to that release: a failed upgrade leaves the old mark). Anything else is a UserError.
 * Written atomically; creates `<storage>/bundle/` when needed.
 */
export async function markInUse(storageDir: string, k0rdentVersion: string): Promise<void> {
  // Only a version gc can match against the bundles' is a protection.
  if (
    !/^[A-Za-z0-9._+-]{1,128}$/.test(k0rdentVersion) || versionKey(k0rdentVersion) === undefined
  ) {
    throw new UserError(
      `Invalid k0rdent version "${k0rdentVersion.slice(0, 200)}": expected a SemVer version ` +
        `such as 1.2.0 (the bundle's k0rdent version, not a Release name)`,
    );
  }
  const mark: InUseMark = { k0rdentVersion, markedAt: new Date().toISOString() };
  await writeFileAtomic(inUsePath(storageDir), JSON.stringify(mark, null, 2) + "\n", {
    mkdirMode: 0o755,
  });
}

/**
 * The version marked in use in `storageDir`, or undefined when none is. A mark that cannot be
 * read is an error (gc must not go on as if nothing were in use).
 */
export async function readInUse(storageDir: string): Promise<InUseMark | undefined> {
  const path = inUsePath(storageDir);
  let text: string;
  try {
    if ((await Deno.stat(path)).size > MAX_MARK_BYTES) {
      throw new Error(`larger than ${MAX_MARK_BYTES} bytes`);
    }
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw unreadable(path, (err as Error).message);
  }
  let mark: Partial<InUseMark> | null;
  try {
    mark = JSON.parse(text);
  } catch (err) {
    throw unreadable(path, (err as Error).message);
  }
  if (typeof mark?.k0rdentVersion !== "string") throw unreadable(path, "no k0rdentVersion");
  return { k0rdentVersion: mark.k0rdentVersion, markedAt: String(mark.markedAt ?? "") };
}

function unreadable(path: string, detail: string): UserError {
  return new UserError(
    `Cannot read the in-use mark "${path}": ${detail}; mark the version again (install) or ` +
      `remove the file`,
  );
}

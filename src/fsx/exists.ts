/** Existence checks that tell "absent" from "cannot look" (permission errors are thrown, not hidden). */

/**
 * True when `path` exists (a dangling symlink counts); false when it is absent, including when a
 * parent is a file (ENOTDIR: nothing can exist there).
 */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw err;
  }
}

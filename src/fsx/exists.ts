/** Existence checks that tell "absent" from "cannot look" (permission errors are thrown, not hidden). */

/** True when `path` exists (a dangling symlink counts); false only when it is absent. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

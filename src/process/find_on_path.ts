/** Looks a program up on `PATH` the way a shell does, without running anything. */
import { join } from "node:path";

/** Finds an executable named `name` on `PATH`; null when there is none. */
export async function findOnPath(
  name: string,
  path: string = Deno.env.get("PATH") ?? "",
): Promise<string | null> {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return candidate;
    } catch { /* not here */ }
  }
  return null;
}

/** Copies of the project's sources into a temp root, for tests that build or run tasks there. */
import { join } from "node:path";
import { PROJECT_ROOT } from "../../tasks/build_flavor.ts";

/** Files at the project root every copy gets: the entry point and the deno/npm configuration. */
const ROOT_FILES = ["main.ts", "deno.json", "deno.lock", "package.json"];

/**
 * Copies the root files and the directories `dirs` (default `src`) from the project into `dest`,
 * and links `node_modules` when `linkNodeModules` is set (the tasks run `node_modules/.bin/deno`).
 */
export async function copySources(
  dest: string,
  options: { dirs?: readonly string[]; linkNodeModules?: boolean } = {},
): Promise<void> {
  for (const file of ROOT_FILES) await Deno.copyFile(join(PROJECT_ROOT, file), join(dest, file));
  const copyDir = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.isDirectory) await copyDir(join(from, entry.name), join(to, entry.name));
      else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
    }
  };
  for (const dir of options.dirs ?? ["src"]) {
    await copyDir(join(PROJECT_ROOT, dir), join(dest, dir));
  }
  if (options.linkNodeModules) {
    await Deno.symlink(join(PROJECT_ROOT, "node_modules"), join(dest, "node_modules"));
  }
}

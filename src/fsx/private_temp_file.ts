/** A private temporary file (0600 in a new 0700 directory) for secrets handed to another tool. */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_write.ts";

/**
 * Runs `fn` with the path of a file `name` holding `content`, mode 0600 in a new 0700
 * directory, removed afterwards whatever `fn` does.
 */
export async function withPrivateTempFile<T>(
  prefix: string,
  name: string,
  content: string,
  fn: (path: string) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await Deno.chmod(dir, 0o700);
    const path = join(dir, name);
    await writeFileAtomic(path, content, { mode: 0o600 });
    return await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Writes a bundle's `SHA256SUMS` in the format `sha256sum -c` reads. */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomic } from "../fsx/atomic_write.ts";

/** The hex SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  const file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

/** Renders `SHA256SUMS` lines (`<hex>  <name>`) for bundle-relative names, in the given order. */
export async function renderChecksums(dir: string, names: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const name of names) lines.push(`${await sha256File(join(dir, name))}  ${name}`);
  return lines.join("\n") + "\n";
}

/** Writes `<dir>/<file>` with the checksums of `names`. */
export async function writeChecksums(
  dir: string,
  file: string,
  names: readonly string[],
): Promise<void> {
  await writeFileAtomic(join(dir, file), await renderChecksums(dir, names), { mode: 0o644 });
}

/** Writes a bundle's `SHA256SUMS` in the format `sha256sum -c` reads. */
import { join } from "node:path";
import { writeFileAtomic } from "../fsx/atomic_write.ts";
import { hashFile } from "../hash/sha.ts";

/** Renders `SHA256SUMS` lines (`<hex>  <name>`) for bundle-relative names, in the given order. */
export async function renderChecksums(dir: string, names: readonly string[]): Promise<string> {
  const lines: string[] = [];
  for (const name of names) lines.push(`${await hashFile(join(dir, name))}  ${name}`);
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

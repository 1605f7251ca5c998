/** Synchronous full writes to a stdio stream (a single writeSync may write only part). */

/** Writes every byte of `data` to `target`. */
export function writeAllSync(target: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) offset += target.writeSync(data.subarray(offset));
}

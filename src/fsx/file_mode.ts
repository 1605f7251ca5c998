/** Whether a file's mode lets group or others in: the check before trusting a file with a secret. */

/** True when `mode` (from `Deno.stat`) grants any access to group or others. */
export function othersCanAccess(mode: number | null | undefined): boolean {
  return ((mode ?? 0) & 0o077) !== 0;
}

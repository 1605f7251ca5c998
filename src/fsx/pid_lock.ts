/**
 * A lock file naming its holder's pid: one build stages into `assets/`, one install changes the
 * host, at a time. A lock left by a process that is gone is taken over.
 */
import process from "node:process";
import { UserError } from "../errors.ts";
import { log } from "../log/logger.ts";

/**
 * Takes the lock at `path` (its directory must exist) and returns the function that releases it.
 * When a live process holds it, throws a UserError with `busy(pid)`.
 */
export async function takePidLock(
  path: string,
  busy: (pid: number) => string,
): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await Deno.writeTextFile(path, `${Deno.pid}\n`, { createNew: true, mode: 0o600 });
      return () => Deno.remove(path).catch(() => {});
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const pid = Number((await Deno.readTextFile(path).catch(() => "")).trim());
    if (pid > 0 && processAlive(pid)) throw new UserError(busy(pid));
    log.warn(`Removing stale lock "${path}" (pid ${pid || "?"} is gone)`);
    await Deno.remove(path).catch(() => {});
  }
  throw new UserError(`Cannot take the lock "${path}"`);
}

/**
 * True unless no process `pid` exists (signal 0 reports ESRCH). Not `/proc/<pid>`: Deno grants
 * `/proc` only with `--allow-all`, which the binary and the build tasks do not have, so every
 * lock looked stale.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== "ESRCH";
  }
}

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The worker of `bcrypt_worker.ts`: compares a password with a bcrypt hash off the daemon's event
 * loop. Message in: `{ id, password, hash }`; message out: `{ id, ok }`.
 */
import bcrypt from "bcryptjs";

self.onmessage = (e: MessageEvent<{ id: number; password: string; hash: string }>) => {
  const { id, password, hash } = e.data;
  let ok = false;
  try {
    ok = bcrypt.compareSync(password, hash);
  } catch {
    // A hash bcryptjs cannot read matches nothing.
  }
  self.postMessage({ id, ok });
};

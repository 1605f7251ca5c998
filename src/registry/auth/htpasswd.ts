/** htpasswd files with bcrypt entries (`htpasswd -B`): parsing and credential checks. */
import bcrypt from "bcryptjs";
import { digestOf } from "../digest.ts";

/** Users and their bcrypt hashes. */
export type Htpasswd = Map<string, string>;

/**
 * Parses htpasswd text. Only bcrypt (`$2a$`, `$2b$`, `$2y$`) entries are accepted; anything else
 * is an error naming the line, so a weak MD5/SHA1/crypt file is never silently used.
 */
export function parseHtpasswd(text: string, source = "htpasswd"): Htpasswd {
  const users: Htpasswd = new Map();
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const colon = trimmed.indexOf(":");
    const user = colon > 0 ? trimmed.slice(0, colon) : "";
    const hash = colon > 0 ? trimmed.slice(colon + 1) : "";
    if (!user || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
      throw new Error(
        `${source} line ${i + 1} is not a "user:bcrypt-hash" entry (use htpasswd -B)`,
      );
    }
    users.set(user, hash);
  });
  return users;
}

/** Checks Basic credentials against an htpasswd; successes are cached by a hash of the pair. */
export class CredentialChecker {
  readonly #verified = new Set<string>();
  constructor(readonly users: Htpasswd) {}

  /** The user name when `user:password` is valid, else undefined. */
  async check(user: string, password: string): Promise<string | undefined> {
    const hash = this.users.get(user);
    if (!hash) return undefined;
    const key = digestOf(new TextEncoder().encode(`${user}\0${password}\0${hash}`));
    if (this.#verified.has(key)) return user;
    if (!(await bcrypt.compare(password, hash))) return undefined;
    if (this.#verified.size > 1000) this.#verified.clear();
    this.#verified.add(key);
    return user;
  }
}

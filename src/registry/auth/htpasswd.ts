/**
 * htpasswd files with bcrypt entries (`htpasswd -B`): parsing and credential checks that do not
 * tell user names apart by timing and cannot be used to flood the event loop with bcrypt.
 */
import { digestOf } from "../digest.ts";
import { RegistryError } from "../errors.ts";
import { BcryptWorker } from "./bcrypt_worker.ts";

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

/** Limits of {@link CredentialChecker}. */
export interface LoginLimits {
  /** Failed logins one client address may make per {@link LoginLimits.windowMs}. */
  maxFailures: number;
  /** The window of `maxFailures`. Default one minute. */
  windowMs?: number;
  /** How long a successful check is remembered. Default one minute. */
  cacheMs?: number;
  /** Checks waiting for bcrypt at most; more are refused. Default 32. */
  maxWaiting?: number;
}

/** Successful checks remembered at most (oldest forgotten first). */
const CACHE_ENTRIES = 1000;
/**
 * How long a verified `Authorization` value is kept as it came (the credentials in base64, hence
 * as good as the password) for the pull fast path: a client pulling without pause has it
 * re-checked against the digest cache every few seconds, and it leaves memory at most about
 * twice this long after the client's last request.
 */
export const HEADER_CACHE_MS = 5_000;
/** Client addresses whose failures are counted at most (expired ones dropped first). */
const CLIENT_ENTRIES = 10_000;

/** The cost (log2 rounds) of a bcrypt hash. */
function cost(hash: string): number {
  return Number(hash.slice(4, 6));
}

/**
 * Checks Basic credentials against an htpasswd:
 * - an unknown user costs one bcrypt comparison too (against the file's costliest hash, the
 *   result thrown away), so answer times do not tell which user names exist;
 * - a success is remembered for `cacheMs` by a hash of user, password and entry (never the
 *   secret itself), so a client's many requests cost one bcrypt, not one each;
 * - for the pull fast path ({@link verifiedHeader}), the `Authorization` value a client sent is
 *   also kept as it came for at most {@link HEADER_CACHE_MS} once verified: a later request
 *   matches it by string equality (no hash, no decoding), which no other value can pass;
 * - comparisons run one at a time in a worker ({@link BcryptWorker}), never on the event loop
 *   that serves pulls; beyond `maxWaiting` in line a check is refused (429);
 * - a client address with `maxFailures` failures in the window is refused (429) without bcrypt
 *   until the window ends, unless its credentials are remembered as good.
 */
export class CredentialChecker {
  readonly #verified = new Map<string, number>();
  /** Verified `Authorization` values: the user and until when (see {@link HEADER_CACHE_MS}). */
  readonly #headers = new Map<string, { user: string; until: number }>();
  #sweep?: ReturnType<typeof setTimeout>;
  readonly #failures = new Map<string, { count: number; since: number }>();
  readonly #decoy: string;
  readonly #bcrypt = new BcryptWorker();
  readonly #windowMs: number;
  readonly #cacheMs: number;
  readonly #maxWaiting: number;

  constructor(
    readonly users: Htpasswd,
    readonly limits: LoginLimits = { maxFailures: 10 },
    readonly now: () => number = Date.now,
  ) {
    this.#windowMs = limits.windowMs ?? 60_000;
    this.#cacheMs = limits.cacheMs ?? 60_000;
    this.#maxWaiting = limits.maxWaiting ?? 32;
    let decoy = "";
    for (const hash of users.values()) if (!decoy || cost(hash) > cost(decoy)) decoy = hash;
    this.#decoy = decoy;
  }

  /**
   * The user name when `user:password` is valid, else undefined; `TOO_MANY_REQUESTS` when
   * `client` failed too often lately or too many checks wait.
   */
  async check(user: string, password: string, client = "unknown"): Promise<string | undefined> {
    const hash = this.users.get(user);
    const key = hash && this.#key(user, password, hash);
    const now = this.now();
    if (key && (this.#verified.get(key) ?? 0) > now) return user;
    const failed = this.#failures.get(client);
    if (failed && now - failed.since < this.#windowMs && failed.count >= this.limits.maxFailures) {
      const wait = Math.ceil((failed.since + this.#windowMs - now) / 1000);
      throw new RegistryError(
        "TOO_MANY_REQUESTS",
        `Too many failed logins from ${client}: try again in ${wait} s`,
      );
    }
    const ok = await this.#compare(password, hash ?? this.#decoy) && hash !== undefined;
    if (!ok) {
      this.#fail(client);
      return undefined;
    }
    if (this.#verified.size >= CACHE_ENTRIES) {
      this.#verified.delete(this.#verified.keys().next().value as string);
    }
    this.#verified.set(key!, this.now() + this.#cacheMs);
    return user;
  }

  /**
   * The user whose Basic credentials `header` (an `Authorization` value) carries when they
   * passed {@link check} lately, else undefined: no bcrypt and no waiting, the fast path of
   * authenticated pulls. `parse` splits the header into user and password; it runs only when
   * this exact value was not verified in the last {@link HEADER_CACHE_MS}.
   */
  verifiedHeader(
    header: string,
    parse: (header: string) => [string, string] | undefined,
  ): string | undefined {
    const now = this.now();
    const hit = this.#headers.get(header);
    if (hit !== undefined && hit.until > now) return hit.user;
    const creds = parse(header);
    if (!creds) return undefined;
    const [user, password] = creds;
    const hash = this.users.get(user);
    if (hash === undefined) return undefined;
    const until = this.#verified.get(this.#key(user, password, hash)) ?? 0;
    if (until <= now) return undefined;
    this.#rememberHeader(header, user, Math.min(until, now + HEADER_CACHE_MS), now);
    return user;
  }

  /** Keeps a verified `Authorization` value (drops the expired ones first, then the oldest). */
  #rememberHeader(header: string, user: string, until: number, now: number): void {
    this.#headers.delete(header);
    this.#dropExpiredHeaders(now);
    if (this.#headers.size >= CACHE_ENTRIES) {
      this.#headers.delete(this.#headers.keys().next().value as string);
    }
    this.#headers.set(header, { user, until });
    this.#scheduleSweep();
  }

  /** Forgets expired values when no request comes to do it (without keeping the process up). */
  #scheduleSweep(): void {
    if (this.#sweep !== undefined) return;
    const timer = setTimeout(() => {
      this.#sweep = undefined;
      this.#dropExpiredHeaders(this.now());
      if (this.#headers.size > 0) this.#scheduleSweep();
    }, HEADER_CACHE_MS);
    Deno.unrefTimer(timer);
    this.#sweep = timer;
  }

  /** Drops expired `Authorization` values from the oldest on (kept in insertion order). */
  #dropExpiredHeaders(now: number): void {
    for (const [header, entry] of this.#headers) {
      if (entry.until > now) break;
      this.#headers.delete(header);
    }
  }

  /** The cache key of a checked login (a digest: no password kept in memory). */
  #key(user: string, password: string, hash: string): string {
    return digestOf(new TextEncoder().encode(`${user}\0${password}\0${hash}`));
  }

  /** Stops the bcrypt worker (when the daemon stops). */
  close(): void {
    clearTimeout(this.#sweep);
    this.#sweep = undefined;
    this.#headers.clear();
    this.#bcrypt.close();
  }

  /** Runs one bcrypt comparison after the ones already waiting. */
  #compare(password: string, hash: string): Promise<boolean> {
    if (this.#bcrypt.pending >= this.#maxWaiting) {
      throw new RegistryError("TOO_MANY_REQUESTS", "Too many logins are being checked: try again");
    }
    return this.#bcrypt.compare(password, hash);
  }

  #fail(client: string): void {
    const now = this.now();
    const entry = this.#failures.get(client);
    if (entry && now - entry.since < this.#windowMs) {
      entry.count++;
      return;
    }
    if (this.#failures.size >= CLIENT_ENTRIES) {
      for (const [c, e] of this.#failures) {
        if (now - e.since >= this.#windowMs) this.#failures.delete(c);
      }
      if (this.#failures.size >= CLIENT_ENTRIES) {
        this.#failures.delete(this.#failures.keys().next().value as string);
      }
    }
    this.#failures.set(client, { count: 1, since: now });
  }
}

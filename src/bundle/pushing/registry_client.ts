/**
 * A small OCI distribution client. Push side (`bundle push`): blob HEAD, cross-repository
 * mount, monolithic and chunked uploads, manifest PUT; bodies are sent from memory in pieces of
 * at most {@link CHUNK_BYTES}. Pull side (`registry --sync-from`): catalog and tag lists
 * (paginated), manifest HEAD/GET (size-limited), blob GET as a stream. Both with basic auth and
 * the distribution token flow (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`), a
 * private CA (`--ca-file`) and plain HTTP.
 */
import { fetchErrorMessage, UserError } from "../../errors.ts";
import { readLimited } from "../../registry/limits.ts";
import { MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES } from "../../registry/manifest.ts";

/** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size. */
export const CHUNK_BYTES = 16 * 1024 * 1024;

/** Largest catalog or tag-list page read from another registry. */
export const MAX_LISTING_BYTES = 4 * 1024 * 1024;
/** Entries asked for per catalog or tag-list page. */
const PAGE_SIZE = 1000;
/** Bytes of all pages of one listing together, at most (a registry that keeps answering "next"). */
const MAX_LISTING_TOTAL_BYTES = 64 * 1024 * 1024;
/** A token response holds one token (a few KiB); a larger one is refused before it is buffered. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/** At most this much of an error response is read (its first 300 characters are shown). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Pages of one listing, at most. */
const MAX_PAGES = 10_000;

/** A manifest read from another registry. */
export interface FetchedManifest {
  bytes: Uint8Array;
  /** Its `Content-Type`. */
  mediaType: string;
  /** The `Docker-Content-Digest` the registry claimed, if any (to be checked by the caller). */
  claimedDigest?: string;
}

/** Where and how to reach the target registry. */
export interface RegistryTarget {
  /** `host[:port]`. */
  host: string;
  plainHttp?: boolean;
  /** PEM CA certificate file for TLS. */
  caFile?: string;
  username?: string;
  password?: string;
}

/** Parses `key="value"` pairs of a `WWW-Authenticate: Bearer ...` header. */
export function parseChallenge(header: string): Record<string, string> | undefined {
  const m = /^Bearer\s+(.*)$/i.exec(header.trim());
  if (!m) return undefined;
  const out: Record<string, string> = {};
  for (const p of m[1].matchAll(/(\w+)="([^"]*)"/g)) out[p[1]] = p[2];
  return out;
}

/** An authenticated connection to one registry. */
export class RegistryClient {
  readonly base: string;
  #client?: Deno.HttpClient;
  readonly #tokens = new Map<string, string>();

  private constructor(readonly target: RegistryTarget, client?: Deno.HttpClient) {
    this.base = `${target.plainHttp ? "http" : "https"}://${target.host}`;
    this.#client = client;
  }

  /** Opens a client (reads the CA file). */
  static async open(target: RegistryTarget): Promise<RegistryClient> {
    let client: Deno.HttpClient | undefined;
    if (target.caFile) {
      let ca: string;
      try {
        ca = await Deno.readTextFile(target.caFile);
      } catch (err) {
        throw new UserError(`Cannot read CA file "${target.caFile}": ${(err as Error).message}`);
      }
      client = Deno.createHttpClient({ caCerts: [ca] });
    }
    return new RegistryClient(target, client);
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#client?.close();
  }

  #basic(): string | undefined {
    const { username, password } = this.target;
    return username ? `Basic ${btoa(`${username}:${password ?? ""}`)}` : undefined;
  }

  async #token(challenge: Record<string, string>, scope: string): Promise<string> {
    const key = `${challenge.realm} ${challenge.service} ${challenge.scope ?? scope}`;
    const cached = this.#tokens.get(key);
    if (cached) return cached;
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set("service", challenge.service);
    // One `scope` parameter per space-delimited scope (distribution v2.8.3 docs/spec/auth/token.md;
    // its challenge joins them with spaces: registry/auth/token/accesscontroller.go `scopeParam`).
    for (const s of (challenge.scope ?? scope).split(" ")) {
      if (s) url.searchParams.append("scope", s);
    }
    const basic = this.#basic();
    const res = await fetch(url, {
      headers: basic ? { authorization: basic } : {},
      client: this.#client,
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new UserError(
        `Registry "${this.target.host}" token request failed: HTTP ${res.status}`,
      );
    }
    const bytes = await readLimited(res.body, MAX_TOKEN_RESPONSE_BYTES, () =>
      new UserError(
        `Registry "${this.target.host}" token response has more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`,
      ));
    let body: { token?: unknown; access_token?: unknown } | undefined;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch { /* reported below */ }
    const token = typeof body?.token === "string"
      ? body.token
      : typeof body?.access_token === "string"
      ? body.access_token
      : undefined;
    if (!token) throw new UserError(`Registry "${this.target.host}" token response has no token`);
    this.#tokens.set(key, token);
    return token;
  }

  /**
   * Sends a request to `path` (or an absolute upload URL) with auth; retries once after a 401
   * with basic credentials or a bearer token. `body` must be bytes (it may be sent twice).
   */
  async request(
    method: string,
    path: string,
    options: {
      headers?: Record<string, string>;
      body?: Uint8Array;
      scope: string;
      signal?: AbortSignal;
    },
  ): Promise<Response> {
    const url = path.startsWith("http") ? path : new URL(path, this.base).toString();
    let auth = this.#authFor(options.scope);
    for (let attempt = 0; attempt < 2; attempt++) {
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers: { ...options.headers, ...(auth ? { authorization: auth } : {}) },
          body: options.body as Uint8Array<ArrayBuffer> | undefined,
          client: this.#client,
          redirect: "follow",
          signal: options.signal,
        });
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        throw new UserError(
          `Cannot reach registry "${this.target.host}": ${fetchErrorMessage(err)}`,
        );
      }
      if (res.status !== 401 || attempt === 1) return res;
      await res.body?.cancel();
      const header = res.headers.get("www-authenticate") ?? "";
      const challenge = parseChallenge(header);
      if (challenge?.realm) {
        auth = `Bearer ${await this.#token(challenge, options.scope)}`;
        this.#lastBearer.set(options.scope, auth);
      } else if (/^Basic/i.test(header) && this.#basic()) {
        auth = this.#basic();
        this.#useBasic = true;
      } else {
        throw new UserError(
          `Registry "${this.target.host}" requires authentication: pass --username and ` +
            `--password-stdin (or K0RDENTD_PUSH_PASSWORD)`,
        );
      }
    }
    throw new Error("unreachable");
  }

  #useBasic = false;
  readonly #lastBearer = new Map<string, string>();

  #authFor(scope: string): string | undefined {
    return this.#lastBearer.get(scope) ?? (this.#useBasic ? this.#basic() : undefined);
  }

  /** Throws a one-line error for an unexpected response. */
  async fail(res: Response, what: string): Promise<never> {
    const head = await readLimited(res.body, MAX_ERROR_BODY_BYTES, () => new Error("long"))
      .catch(() => new Uint8Array(0));
    const text = new TextDecoder().decode(head).slice(0, 300).replace(/\s+/g, " ").trim();
    if (res.status === 401 || res.status === 403) {
      throw new UserError(
        `Registry "${this.target.host}" refused ${what}: HTTP ${res.status} (check the credentials)`,
      );
    }
    throw new UserError(
      `Registry "${this.target.host}" failed ${what}: HTTP ${res.status}${text ? ` ${text}` : ""}`,
    );
  }

  /** True when `repo` has blob `digest`. */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.request("HEAD", `/v2/${repo}/blobs/${digest}`, { scope: pull(repo) });
    await res.body?.cancel();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return await this.fail(res, `HEAD of blob "${digest}" in "${repo}"`);
  }

  /** Mounts `digest` from `from` into `repo`; false when the registry did not mount it. */
  async mountBlob(repo: string, digest: string, from: string): Promise<boolean> {
    const res = await this.request(
      "POST",
      `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${
        encodeURIComponent(from)
      }`,
      { scope: `${push(repo)} ${pull(from)}` },
    );
    if (res.status === 201) {
      await res.body?.cancel();
      return true;
    }
    if (res.status === 202) {
      // Not mounted; an upload was opened instead: cancel it.
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (location) {
        const del = await this.request("DELETE", this.#abs(location), { scope: push(repo) });
        await del.body?.cancel();
      }
      return false;
    }
    return await this.fail(res, `mount of blob "${digest}" into "${repo}"`);
  }

  #abs(location: string): string {
    return new URL(location, this.base).toString();
  }

  /**
   * Uploads a blob of `size` bytes from `body`: one PUT when it fits in a chunk, else PATCH
   * chunks then PUT. Reads `body` to its end.
   */
  async uploadBlob(
    repo: string,
    digest: string,
    size: number,
    body: ReadableStream<Uint8Array>,
  ): Promise<void> {
    const start = await this.request("POST", `/v2/${repo}/blobs/uploads/`, { scope: push(repo) });
    if (start.status !== 202) return await this.fail(start, `upload start in "${repo}"`);
    await start.body?.cancel();
    let location = this.#abs(start.headers.get("location") ?? "");
    const reader = body.getReader();
    let buffer = new Uint8Array(Math.min(size, CHUNK_BYTES));
    let filled = 0;
    let sent = 0;
    let pending: Uint8Array | undefined;
    const finish = async (data: Uint8Array) => {
      const url = new URL(location);
      url.searchParams.set("digest", digest);
      const res = await this.request("PUT", url.toString(), {
        scope: push(repo),
        body: data,
        headers: { "content-type": "application/octet-stream" },
      });
      if (res.status !== 201) return await this.fail(res, `upload of blob "${digest}"`);
      await res.body?.cancel();
    };
    const patch = async (data: Uint8Array) => {
      const res = await this.request("PATCH", location, {
        scope: push(repo),
        body: data,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${sent}-${sent + data.length - 1}`,
        },
      });
      if (res.status !== 202) return await this.fail(res, `chunk upload of blob "${digest}"`);
      await res.body?.cancel();
      location = this.#abs(res.headers.get("location") ?? location);
      sent += data.length;
    };
    while (true) {
      const chunk = pending ?? (await reader.read()).value;
      pending = undefined;
      if (!chunk) break;
      const room = buffer.length - filled;
      if (room === 0) {
        await reader.cancel();
        throw new UserError(`Blob "${digest}" has more than the ${size} bytes it claims`);
      }
      if (chunk.length <= room) {
        buffer.set(chunk, filled);
        filled += chunk.length;
      } else {
        buffer.set(chunk.subarray(0, room), filled);
        filled += room;
        pending = chunk.subarray(room);
      }
      if (filled === buffer.length && sent + filled < size) {
        await patch(buffer);
        buffer = new Uint8Array(Math.min(size - sent, CHUNK_BYTES));
        filled = 0;
      }
    }
    await finish(buffer.subarray(0, filled));
  }

  /** Puts a manifest under `reference` (tag or digest). */
  async putManifest(repo: string, reference: string, bytes: Uint8Array, mediaType: string) {
    const res = await this.request("PUT", `/v2/${repo}/manifests/${reference}`, {
      scope: push(repo),
      body: bytes,
      headers: { "content-type": mediaType },
    });
    if (res.status !== 201) return await this.fail(res, `manifest PUT "${repo}:${reference}"`);
    await res.body?.cancel();
  }

  /**
   * Every entry of a paginated listing (`/v2/_catalog` or `/v2/<name>/tags/list`): asks for
   * {@link PAGE_SIZE} at a time and follows the `Link: <...>; rel="next"` header, or `last=` when
   * a full page came without one. Each page, and all of them together, is read with a size limit.
   */
  async #listAll(
    path: string,
    key: "repositories" | "tags",
    scope: string,
    signal?: AbortSignal,
  ): Promise<string[]> {
    const out: string[] = [];
    let url: string | undefined = `${path}?n=${PAGE_SIZE}`;
    let total = 0;
    for (let page = 0; url; page++) {
      if (page >= MAX_PAGES) {
        throw new UserError(
          `Registry "${this.target.host}" lists more than ${MAX_PAGES} pages under ${path}`,
        );
      }
      const res = await this.request("GET", url, { scope, signal });
      if (res.status !== 200) return await this.fail(res, `GET ${path}`);
      const bytes = await readLimited(res.body, MAX_LISTING_BYTES, () =>
        new UserError(
          `Registry "${this.target.host}" answered GET ${path} with more than ${MAX_LISTING_BYTES} bytes`,
        ));
      total += bytes.length;
      if (total > MAX_LISTING_TOTAL_BYTES) {
        throw new UserError(
          `Registry "${this.target.host}" lists more than ${MAX_LISTING_TOTAL_BYTES} bytes under ${path}`,
        );
      }
      let items: unknown;
      try {
        items = (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>)[key];
      } catch (err) {
        throw new UserError(
          `Registry "${this.target.host}" answered GET ${path} with invalid JSON: ${
            (err as Error).message
          }`,
        );
      }
      if (items === null || items === undefined) items = [];
      if (!Array.isArray(items) || items.some((i) => typeof i !== "string")) {
        throw new UserError(
          `Registry "${this.target.host}" answered GET ${path} without a "${key}" list of names`,
        );
      }
      out.push(...items);
      const next = this.#sameOrigin(
        /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get("link") ?? "")?.[1],
      );
      const last = items.at(-1);
      url = next
        ? next
        : items.length >= PAGE_SIZE && last !== undefined
        ? `${path}?n=${PAGE_SIZE}&last=${encodeURIComponent(last)}`
        : undefined;
    }
    return out;
  }

  /** `link` resolved against the registry when it stays on it (credentials go nowhere else). */
  #sameOrigin(link: string | undefined): string | undefined {
    if (!link) return undefined;
    try {
      const url = new URL(link, this.base);
      if (url.origin !== new URL(this.base).origin) {
        throw new UserError(
          `Registry "${this.target.host}" sent a next-page link to another host: "${link}"`,
        );
      }
      return url.toString();
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(
        `Registry "${this.target.host}" sent an invalid next-page link "${link}"`,
      );
    }
  }

  /** Every repository of the registry (`GET /v2/_catalog`, all pages). */
  async catalog(signal?: AbortSignal): Promise<string[]> {
    return await this.#listAll("/v2/_catalog", "repositories", "registry:catalog:*", signal);
  }

  /** Every tag of `repo` (`GET /v2/<repo>/tags/list`, all pages). */
  async listTags(repo: string, signal?: AbortSignal): Promise<string[]> {
    return await this.#listAll(`/v2/${repo}/tags/list`, "tags", pull(repo), signal);
  }

  /** The digest `reference` of `repo` names (`HEAD`), or undefined when the registry omits it. */
  async manifestDigest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const res = await this.request("HEAD", `/v2/${repo}/manifests/${reference}`, {
      scope: pull(repo),
      headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
      signal,
    });
    await res.body?.cancel();
    if (res.status !== 200) return await this.fail(res, `HEAD of manifest "${repo}:${reference}"`);
    return res.headers.get("docker-content-digest") ?? undefined;
  }

  /** Reads manifest `reference` of `repo` (at most {@link MAX_MANIFEST_BYTES}). */
  async getManifest(
    repo: string,
    reference: string,
    signal?: AbortSignal,
  ): Promise<FetchedManifest> {
    const res = await this.request("GET", `/v2/${repo}/manifests/${reference}`, {
      scope: pull(repo),
      headers: { accept: MANIFEST_MEDIA_TYPES.join(", ") },
      signal,
    });
    if (res.status !== 200) return await this.fail(res, `GET of manifest "${repo}:${reference}"`);
    const bytes = await readLimited(res.body, MAX_MANIFEST_BYTES, () =>
      new UserError(
        `Registry "${this.target.host}" sent manifest "${repo}:${reference}" larger than ${MAX_MANIFEST_BYTES} bytes`,
      ));
    return {
      bytes,
      mediaType: (res.headers.get("content-type") ?? "").split(";")[0].trim(),
      claimedDigest: res.headers.get("docker-content-digest") ?? undefined,
    };
  }

  /**
   * Opens blob `digest` of `repo` for reading from byte `offset` (a `Range` request when not 0);
   * `from` is where the body starts: `offset` when the registry answered 206 for it, else 0 (a
   * whole body). The caller checks size and digest while it stores the stream.
   */
  async getBlob(
    repo: string,
    digest: string,
    signal?: AbortSignal,
    offset = 0,
  ): Promise<{ body: ReadableStream<Uint8Array>; from: number }> {
    const res = await this.request("GET", `/v2/${repo}/blobs/${digest}`, {
      scope: pull(repo),
      signal,
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    });
    if ((res.status !== 200 && res.status !== 206) || !res.body) {
      return await this.fail(res, `GET of blob "${digest}" in "${repo}"`);
    }
    const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
    if (res.status === 206 && Number(start) !== offset) {
      await res.body.cancel();
      throw new UserError(
        `Registry "${this.target.host}" answered a range from ${offset} of blob "${digest}" with "${
          res.headers.get("content-range")
        }"`,
      );
    }
    return { body: res.body, from: res.status === 206 ? offset : 0 };
  }
}

function pull(repo: string): string {
  return `repository:${repo}:pull`;
}

function push(repo: string): string {
  return `repository:${repo}:pull,push`;
}

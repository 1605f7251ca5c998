/** What one client may hold of the registry daemon (`registry.limits`), as the server uses them. */
import { durationMs, formatDuration } from "../config/duration.ts";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";
import { BodyReadError } from "./errors.ts";
import type { UploadSessionLimits } from "./storage/upload_sessions.ts";

/** The daemon's limits in numbers; see docs/registry.md (Limits). */
export interface ServeLimits {
  /** Open connections at most (fewer when the open-file limit allows fewer). */
  maxConnections: number;
  /** Close a connection that sends no complete request header within this. */
  headerTimeoutMs: number;
  /** Close a connection when its last request started this long ago. */
  idleTimeoutMs: number;
  /** Upload sessions open at once, in total and per client, and when they expire. */
  uploads: UploadSessionLimits;
  /** Failed logins one client address may make per minute (with `--htpasswd`). */
  maxLoginFailures: number;
}

/** The configuration's `registry.limits` (validated, so every duration parses) in numbers. */
export function serveLimits(limits: Config["registry"]["limits"]): ServeLimits {
  const ms = (value: string) => durationMs(value) as number;
  return {
    maxConnections: limits.maxConnections,
    headerTimeoutMs: ms(limits.headerTimeout),
    idleTimeoutMs: ms(limits.idleTimeout),
    uploads: {
      maxSessions: limits.maxUploads,
      maxPerClient: limits.maxUploadsPerClient,
      expiryMs: ms(limits.uploadExpiry),
    },
    maxLoginFailures: limits.maxLoginFailures,
  };
}

/** The default limits. */
export function defaultServeLimits(): ServeLimits {
  return serveLimits(defaultConfig().registry.limits);
}

/** The `registry` flags that set `limits`, only where they differ from the defaults. */
export function limitFlags(limits: ServeLimits): string[] {
  const defaults = defaultServeLimits();
  const args: string[] = [];
  if (limits.maxConnections !== defaults.maxConnections) {
    args.push("--max-connections", String(limits.maxConnections));
  }
  if (limits.headerTimeoutMs !== defaults.headerTimeoutMs) {
    args.push("--header-timeout", formatDuration(limits.headerTimeoutMs));
  }
  if (limits.idleTimeoutMs !== defaults.idleTimeoutMs) {
    args.push("--idle-timeout", formatDuration(limits.idleTimeoutMs));
  }
  const { uploads } = limits;
  if (uploads.maxSessions !== defaults.uploads.maxSessions) {
    args.push("--max-uploads", String(uploads.maxSessions));
  }
  if (uploads.maxPerClient !== defaults.uploads.maxPerClient) {
    args.push("--max-uploads-per-client", String(uploads.maxPerClient));
  }
  if (uploads.expiryMs !== defaults.uploads.expiryMs) {
    args.push("--upload-expiry", formatDuration(uploads.expiryMs));
  }
  if (limits.maxLoginFailures !== defaults.maxLoginFailures) {
    args.push("--max-login-failures", String(limits.maxLoginFailures));
  }
  return args;
}

/**
 * Reads at most `max` bytes of an untrusted body (a request, or a response of another
 * registry) into memory; throws `tooLarge()` as soon as it has more, before buffering the
 * excess. A failing body is a {@link BodyReadError}.
 */
export async function readLimited(
  stream: ReadableStream<Uint8Array> | null,
  max: number,
  tooLarge: () => Error,
): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { done, value } = await reader.read().catch((err) => {
        throw new BodyReadError(err);
      });
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      parts.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** What one client may hold of the registry daemon (`registry.limits`), as the server uses them. */
import { durationMs } from "../config/duration.ts";
import { defaultConfig } from "../config/defaults.ts";
import type { Config } from "../config/schema.ts";

/** The daemon's limits in numbers; see docs/registry.md (Limits). */
export interface ServeLimits {
  /** Open connections at most (fewer when the open-file limit allows fewer). */
  maxConnections: number;
  /** Close a connection that sends no complete request header within this. */
  headerTimeoutMs: number;
  /** Close a connection when its last request started this long ago. */
  idleTimeoutMs: number;
}

/** The configuration's `registry.limits` (validated, so every duration parses) in numbers. */
export function serveLimits(limits: Config["registry"]["limits"]): ServeLimits {
  const ms = (value: string) => durationMs(value) as number;
  return {
    maxConnections: limits.maxConnections,
    headerTimeoutMs: ms(limits.headerTimeout),
    idleTimeoutMs: ms(limits.idleTimeout),
  };
}

/** The default limits. */
export function defaultServeLimits(): ServeLimits {
  return serveLimits(defaultConfig().registry.limits);
}

/** A duration as the shortest exact text `durationMs` reads back (`2m`, `1500ms`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
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
  return args;
}

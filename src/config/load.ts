/**
 * Loads the effective configuration: defaults < file < environment < flags,
 * with `${VAR}` expansion in the file, and validation that reports every
 * problem with its field path and, for file values, the file and line.
 */
import { othersCanAccess } from "../fsx/file_mode.ts";
import { basename } from "node:path";
import { isMap, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { UsageError, UserError } from "../errors.ts";
import { HOST, hostPath } from "../host/paths.ts";
import { log } from "../log/logger.ts";
import { defaultConfig } from "./defaults.ts";
import { type ExpandProblem, expandVariables } from "./expand.ts";
import { deepMerge, getPath, isPlainObject, setPath } from "./merge.ts";
import { type Config, configSchema } from "./schema.ts";
import { parseBoolean } from "./boolean.ts";

/** An override from a command-line flag. */
export interface Override {
  path: readonly string[];
  value: unknown;
  /** The flag, for messages, e.g. `--port`. */
  flag: string;
}

/** Where the configuration comes from. */
export interface LoadOptions {
  /** Explicit config file (flag `-c` or env `K0RDENTD_CONFIG_FILE`); missing is an error. */
  file?: string;
  /** Environment lookup; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  overrides?: readonly Override[];
}

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /** Dotted field path, e.g. `k0rdent.credentials.aws[0].region`. */
  path: string;
  message: string;
  /** `k0rdentd.yaml:14`, `env K0RDENTD_REGISTRY_PORT` or `flag --port`. */
  origin?: string;
}

/** The result of reading and checking the configuration. */
export interface ConfigCheck {
  /** The file that was read, if any. */
  file?: string;
  config?: Config;
  problems: ConfigProblem[];
}

/** Environment variables that override config fields; a later row wins over an earlier one. */
export const ENV_OVERRIDES: readonly {
  name: string;
  path: readonly string[];
  type: "string" | "number" | "boolean";
  /** The variable that replaces this old name (which still works, with a warning). */
  replacedBy?: string;
}[] = [
  { name: "K0RDENTD_LOG_LEVEL", path: ["logLevel"], type: "string" },
  { name: "K0RDENTD_LOG_FORMAT", path: ["logFormat"], type: "string" },
  { name: "K0RDENTD_K0S_VERSION", path: ["k0s", "version"], type: "string" },
  { name: "K0RDENTD_K0RDENT_VERSION", path: ["k0rdent", "version"], type: "string" },
  { name: "K0RDENTD_AIRGAP_BUNDLE_PATH", path: ["airgap", "bundlePath"], type: "string" },
  { name: "K0RDENTD_AIRGAP_BUNDLE_PATH", path: ["registry", "bundlePath"], type: "string" },
  { name: "K0RDENTD_REGISTRY_ADDRESS", path: ["airgap", "registry", "address"], type: "string" },
  {
    name: "K0RDENTD_REGISTRY_ADVERTISE_ADDRESS",
    path: ["airgap", "registry", "advertiseAddress"],
    type: "string",
  },
  {
    name: "K0RDENTD_REGISTRY_USERNAME",
    path: ["airgap", "registry", "username"],
    type: "string",
  },
  {
    name: "K0RDENTD_REGISTRY_PASSWORD",
    path: ["airgap", "registry", "password"],
    type: "string",
  },
  { name: "K0RDENTD_REGISTRY_HOST", path: ["registry", "host"], type: "string" },
  { name: "K0RDENTD_REGISTRY_PORT", path: ["registry", "port"], type: "number" },
  { name: "K0RDENTD_REGISTRY_FILES_PORT", path: ["registry", "filesPort"], type: "number" },
  { name: "K0RDENTD_REGISTRY_STORAGE", path: ["registry", "storage"], type: "string" },
  { name: "K0RDENTD_VERIFY_SIGNATURE", path: ["registry", "verifySignature"], type: "boolean" },
  {
    name: "K0RDENT_COSIGN_KEY",
    path: ["registry", "cosignKey"],
    type: "string",
    replacedBy: "K0RDENTD_COSIGN_KEY",
  },
  { name: "K0RDENTD_COSIGN_KEY", path: ["registry", "cosignKey"], type: "string" },
];

const warnedDeprecated = new Set<string>();

function warnDeprecated(name: string, replacedBy: string): void {
  if (warnedDeprecated.has(name)) return;
  warnedDeprecated.add(name);
  log.warn(`Environment variable ${name} is deprecated: use ${replacedBy}`);
}

/**
 * The default config file location (under `K0RDENTD_ROOT`): read before a command has a host
 * mutator, so through `hostPath` itself.
 */
export function defaultConfigFile(): string {
  return hostPath(HOST.configFile);
}

/** Formats a path as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) =>
    typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`
  )
    .join("");
}

function convert(value: string, type: "string" | "number" | "boolean"): unknown {
  if (type === "number" && /^\s*\d+\s*$/.test(value)) return Number(value);
  if (type === "boolean") return parseBoolean(value) ?? value;
  return value;
}

const ARTICLE = (word: string) => (/^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`);

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined ? "is required" : `expected ${ARTICLE(issue.expected)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "string" && issue.minimum === 1
        ? "must not be empty"
        : `must be at least ${issue.minimum}`;
    case "too_big":
      return `must be at most ${issue.maximum}`;
    case "invalid_format":
      return issue.format === "url" ? "expected a URL" : issue.message;
    case "invalid_union":
      return "expected YAML text or a mapping";
    default:
      return issue.message;
  }
}

/** Reads, expands, merges and validates; never throws for bad content. */
export async function checkConfig(options: LoadOptions = {}): Promise<ConfigCheck> {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const explicit = options.file;
  const file = explicit ?? defaultConfigFile();
  const problems: ConfigProblem[] = [];
  const name = basename(file);

  let text: string | undefined;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound) || explicit !== undefined) {
      const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
      throw new UserError(`Cannot read config file "${file}": ${why}`);
    }
  }

  const lines = new LineCounter();
  let fromFile: Record<string, unknown> = {};
  let lineOf = (_path: readonly PropertyKey[]): string | undefined => undefined;
  if (text !== undefined) {
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length) {
      const e = doc.errors[0];
      const line = lines.linePos(e.pos[0]).line;
      throw new UserError(
        `Cannot parse config file "${file}": ${e.message.split("\n")[0]} (${name}:${line})`,
      );
    }
    const json = doc.toJS() ?? {};
    if (!isPlainObject(json) || (doc.contents && !isMap(doc.contents))) {
      throw new UserError(
        `Cannot parse config file "${file}": expected a mapping at the top level`,
      );
    }
    lineOf = (path) => {
      for (let n = path.length; n >= 1; n--) {
        const node = doc.getIn(path.slice(0, n) as unknown[], true) as {
          range?: [number, number, number];
        } | undefined;
        if (node?.range) return `${name}:${lines.linePos(node.range[0]).line}`;
      }
      return undefined;
    };
    const expandProblems: ExpandProblem[] = [];
    fromFile = expandVariables(json, env, expandProblems) as Record<string, unknown>;
    for (const p of expandProblems) {
      problems.push({
        path: formatPath(p.path),
        message: `environment variable "${p.variable}" is not set and has no default`,
        origin: lineOf(p.path),
      });
    }
  }

  const layered = structuredClone(fromFile);
  const origins = new Map<string, string>();
  for (const o of ENV_OVERRIDES) {
    const value = env(o.name);
    if (value === undefined || value === "") continue;
    if (o.replacedBy) warnDeprecated(o.name, o.replacedBy);
    setPath(layered, o.path, convert(value, o.type));
    origins.set(formatPath(o.path), `env ${o.name}`);
  }
  for (const o of options.overrides ?? []) {
    if (o.value === undefined) continue;
    setPath(layered, o.path, o.value);
    origins.set(formatPath(o.path), `flag ${o.flag}`);
  }

  const unexpanded = new Set(problems.map((p) => p.path));
  const merged = deepMerge(defaultConfig(), layered);
  const result = configSchema.safeParse(merged, { reportInput: true });
  if (!result.success) {
    for (const issue of result.error.issues) {
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [undefined];
      for (const key of keys) {
        const path = key === undefined ? issue.path : [...issue.path, key];
        const dotted = formatPath(path);
        if (unexpanded.has(dotted)) continue;
        const origin = originOf(origins, dotted) ?? lineOf(path);
        problems.push({
          path: dotted,
          message: key === undefined ? issueMessage(issue) : `unknown key "${key}"`,
          origin,
        });
      }
    }
  }
  if (text !== undefined) warnIfExposed(file, fromFile);
  return {
    file: text === undefined ? undefined : file,
    config: problems.length ? undefined : result.data,
    problems,
  };
}

/** The origin of `dotted` or of the nearest override above it (`--tls-san` sets a whole list). */
function originOf(origins: Map<string, string>, dotted: string): string | undefined {
  for (let at = dotted; at !== ""; at = at.replace(/(\.[^.[]*|\[\d+\])$/, "")) {
    const origin = origins.get(at);
    if (origin !== undefined) return origin;
    if (!/[.[]/.test(at)) break;
  }
  return undefined;
}

/** Formats a problem as `path: message (origin)`. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.path}: ${p.message}${p.origin ? ` (${p.origin})` : ""}`;
}

/**
 * Loads the effective configuration or throws a {@link UserError} listing every problem, or a
 * {@link UsageError} (exit 2) when a command-line flag has a bad value.
 */
export async function loadConfig(
  options: LoadOptions = {},
): Promise<{ config: Config; file?: string }> {
  const check = await checkConfig(options);
  if (!check.config) {
    const where = check.file ? ` in "${check.file}"` : "";
    const fromFlags = check.problems.filter((p) => p.origin?.startsWith("flag "));
    const others = check.problems.filter((p) => !fromFlags.includes(p));
    const lines = fromFlags.map((p) => flagProblemLine(p, options.overrides ?? []));
    if (others.length) {
      lines.push(`Invalid configuration${where}:\n  ${others.map(formatProblem).join("\n  ")}`);
    }
    throw fromFlags.length ? new UsageError(lines.join("\n")) : new UserError(lines.join("\n"));
  }
  return { config: check.config, file: check.file };
}

/** `Invalid --port "99999": must be at most 65535` for a problem a flag caused. */
function flagProblemLine(problem: ConfigProblem, overrides: readonly Override[]): string {
  const flag = problem.origin!.slice("flag ".length);
  const override = overrides.find((o) =>
    o.flag === flag && problem.path.startsWith(formatPath(o.path))
  );
  const value = Array.isArray(override?.value) ? override.value.join(",") : override?.value;
  return `Invalid ${flag} ${JSON.stringify(String(value))}: ${problem.message}`;
}

function holdsSecrets(fromFile: Record<string, unknown>): boolean {
  const creds = getPath(fromFile, ["k0rdent", "credentials"]);
  const anyCreds = isPlainObject(creds) &&
    Object.values(creds).some((v) => Array.isArray(v) && v.length > 0);
  return anyCreds || Boolean(getPath(fromFile, ["join", "token"]));
}

function warnIfExposed(file: string, fromFile: Record<string, unknown>): void {
  if (!holdsSecrets(fromFile)) return;
  try {
    const mode = Deno.statSync(file).mode ?? 0;
    if (othersCanAccess(mode)) {
      log.warn(
        `Config file "${file}" holds credentials and is readable by group or others (mode ${
          (mode & 0o777).toString(8)
        }): run "chmod 600 ${file}"`,
      );
    }
  } catch { /* already read; a stat failure here changes nothing */ }
}

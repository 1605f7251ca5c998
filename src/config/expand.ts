/** `${VAR}` and `${VAR:-default}` expansion in configuration strings. */
import { UserError } from "../errors.ts";

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A string that failed to expand, with where it was. */
export interface ExpandProblem {
  path: (string | number)[];
  variable: string;
}

/**
 * Expands variables in every string of `value` (deeply), returning a new value.
 * Unset variables without a default are collected in `problems`.
 */
export function expandVariables(
  value: unknown,
  env: (name: string) => string | undefined,
  problems: ExpandProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === "string") {
    return value.replace(PATTERN, (_match, name: string, fallback?: string) => {
      const found = env(name);
      if (found !== undefined && found !== "") return found;
      if (fallback !== undefined) return fallback;
      if (found !== undefined) return found;
      problems.push({ path, variable: name });
      return "";
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => expandVariables(item, env, problems, [...path, i]));
  }
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, expandVariables(v, env, problems, [...path, k])]),
    );
  }
  return value;
}

/** Throws when a string holds an unset variable without default. */
export function expandString(text: string, env: (name: string) => string | undefined): string {
  const problems: ExpandProblem[] = [];
  const out = expandVariables(text, env, problems) as string;
  if (problems.length) {
    throw new UserError(`Environment variable "${problems[0].variable}" is not set`);
  }
  return out;
}

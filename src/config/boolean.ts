/** The one reading of boolean words in flags, environment variables and config overrides. */
import { UsageError } from "../errors.ts";

const TRUE = /^(1|true|yes|y|on)$/i;
const FALSE = /^(0|false|no|n|off)$/i;

/** `true`/`false` for the accepted words, undefined for anything else. */
export function parseBoolean(text: string): boolean | undefined {
  if (TRUE.test(text.trim())) return true;
  if (FALSE.test(text.trim())) return false;
  return undefined;
}

/**
 * A commander argument parser for `--flag [bool]`: a bare flag is true; an unknown word is a
 * usage error (a typo must never turn a safety check off).
 */
export function booleanFlag(name: string): (value: string | undefined) => boolean {
  return (value) => {
    if (value === undefined) return true;
    const parsed = parseBoolean(value);
    if (parsed === undefined) {
      throw new UsageError(`Invalid ${name} "${value}": expected true or false`);
    }
    return parsed;
  };
}

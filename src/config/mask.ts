/** Masks secrets in a configuration before it is shown or logged. */

/** Keys whose string values are secrets, wherever they appear (including helm values). */
export const SECRET_KEY = /secret|password|token$|credentials$|accesskeyid|privatekey/i;

/** The placeholder shown instead of a secret. */
export const MASK = "********";

/** Returns a deep copy of `value` with every secret string replaced by {@link MASK}. */
export function maskSecrets(value: unknown, key = ""): unknown {
  if (typeof value === "string") return value !== "" && SECRET_KEY.test(key) ? MASK : value;
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, key));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  }
  return value;
}

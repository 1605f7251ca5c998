/** Durations written as text (`500ms`, `30s`, `2m`, `1h`): one parser for flags and config. */
import ms from "ms";

/** Milliseconds of a duration such as `30s`, `2m`, `1h` or `500ms`; undefined unless positive. */
export function durationMs(value: string): number | undefined {
  const parsed = typeof value === "string" ? ms(value.trim()) as number | undefined : undefined;
  return typeof parsed === "number" && Number.isFinite(parsed) && parsed > 0 ? parsed : undefined;
}

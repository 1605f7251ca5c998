/** Durations written as text (`500ms`, `30s`, `2m`, `1h`): one parser for flags and config. */
import ms from "ms";

/** Milliseconds of a duration such as `30s`, `2m`, `1h` or `500ms`; undefined unless positive. */
export function durationMs(value: string): number | undefined {
  const parsed = typeof value === "string" ? ms(value.trim()) as number | undefined : undefined;
  return typeof parsed === "number" && Number.isFinite(parsed) && parsed > 0 ? parsed : undefined;
}

/** A duration as the shortest exact text {@link durationMs} reads back (`2m`, `1500ms`). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * A writer of the Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` once per
 * family, then its samples, label values escaped, numbers as Go's `strconv` would print them
 * (`+Inf`, `NaN`).
 */

/** Content-Type of the format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Metric types of the format. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names and values of one sample, in order. */
export type Labels = Record<string, string>;

/** A label value with `\`, `"` and newlines escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => ch === "\n" ? "\\n" : `\\${ch}`);
}

/** `{a="1",b="2"}`, or "" for no labels. */
export function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A sample value: integers as digits, `+Inf`/`-Inf`/`NaN` spelled as the format wants. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Collects families and renders the exposition text. */
export class Exposition {
  #out: string[] = [];

  /** Starts a family: its help line and type. */
  family(name: string, type: MetricType, help: string): this {
    this.#out.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.#out.push(`# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of the current family (a histogram's `_bucket`, `_sum`, `_count` included). */
  sample(name: string, value: number, labels?: Labels): this {
    this.#out.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  /** A sample line already formatted (a pre-rendered label set). */
  line(text: string): this {
    this.#out.push(text);
    return this;
  }

  /** The exposition text, ending in a newline. */
  text(): string {
    return this.#out.join("\n") + "\n";
  }
}

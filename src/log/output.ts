/** Data output on stdout: the only place besides the logger that writes to the terminal. */

/** Output formats accepted by `--output`. */
export const OUTPUT_FORMATS = ["text", "json"] as const;
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

import { writeAllSync } from "./write_all.ts";

const encoder = new TextEncoder();

/** Writes text to stdout, adding a final newline when missing. */
export function printOut(text: string): void {
  const body = text.endsWith("\n") ? text : text + "\n";
  writeAllSync(Deno.stdout, encoder.encode(body));
}

/** Prints `data` as indented JSON, or `text()` for the text format. */
export function printData(format: OutputFormat, data: unknown, text: () => string): void {
  printOut(format === "json" ? JSON.stringify(data, null, 2) : text());
}

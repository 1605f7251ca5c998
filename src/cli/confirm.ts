/**
 * Reads lines from stdin: answers to yes/no questions asked on stderr (EOF means no), and a
 * secret given on stdin (`--registry-password-stdin`). Lines are bounded in length.
 */
import { UserError } from "../errors.ts";
import { log } from "../log/logger.ts";

/** The longest line read from stdin. */
const MAX_LINE_BYTES = 64 * 1024;

/** Input read past the last line returned (answers to later questions). */
let buffered = "";

/** Reads one line from stdin (without its newline); null at end of input. */
export async function readLine(): Promise<string | null> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  try {
    while (!buffered.includes("\n")) {
      if (buffered.length > MAX_LINE_BYTES) {
        throw new UserError(`Cannot read stdin: a line is longer than ${MAX_LINE_BYTES} bytes`);
      }
      const { value, done } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  if (buffered === "") return null;
  const end = buffered.indexOf("\n");
  const line = end >= 0 ? buffered.slice(0, end) : buffered;
  buffered = end >= 0 ? buffered.slice(end + 1) : "";
  return line;
}

/** True when the user answers y or yes to `question`. */
export async function confirm(question: string): Promise<boolean> {
  log.raw(`${question} [y/N] `);
  const answer = await readLine();
  return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
}

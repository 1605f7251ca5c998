/** Asks a yes/no question on stderr and reads the answer from stdin (EOF means no). */
import { log } from "../log/logger.ts";

/** Input read past the last line returned (answers to later questions). */
let buffered = "";

/** Reads one line from stdin; null at end of input. */
async function readLine(): Promise<string | null> {
  const reader = Deno.stdin.readable.getReader();
  const decoder = new TextDecoder();
  try {
    while (!buffered.includes("\n")) {
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

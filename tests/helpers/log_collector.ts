/** Collects the logger's lines in a test (no colour) and puts stderr back with `restore()`. */
import { log, type LogLevel, stderrSink } from "../../src/log/logger.ts";

/** Captures every line the one logger writes from construction until {@link restore}. */
export class LogCollector {
  readonly #lines: string[] = [];
  readonly #level: LogLevel;

  constructor(level: LogLevel = "info") {
    this.#level = log.level;
    log.configure({
      level,
      sink: { write: (l) => this.#lines.push(l), isTerminal: () => false },
      colour: false,
    });
  }

  /** The lines so far. */
  lines(): string[] {
    return [...this.#lines];
  }

  /** Sends lines to stderr again, at the level from before. */
  restore(): void {
    log.configure({ level: this.#level, sink: stderrSink, colour: undefined });
  }
}

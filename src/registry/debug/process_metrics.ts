/**
 * Process metrics of the daemon: resident memory, open file descriptors (when this process may
 * list `/proc/self/fd`: Deno allows it only with --allow-all, so the compiled binary's daemon
 * leaves the metric out) and event-loop delay, sampled by a timer that measures how late it
 * fires.
 */
import type { Exposition } from "./exposition.ts";

/** How often the event-loop delay is sampled. */
const SAMPLE_MS = 250;
/** The delay gauge is the largest sample of the last one to two windows of this length. */
const WINDOW_MS = 10_000;

/** Samples the event-loop delay until {@link EventLoopMonitor.stop}. */
export class EventLoopMonitor {
  #current = 0;
  #previous = 0;
  #windowStart = performance.now();
  #timer: ReturnType<typeof setTimeout>;

  constructor() {
    let expected = performance.now() + SAMPLE_MS;
    const tick = () => {
      const now = performance.now();
      const late = Math.max(0, now - expected);
      if (now - this.#windowStart >= WINDOW_MS) {
        this.#previous = this.#current;
        this.#current = 0;
        this.#windowStart = now;
      }
      if (late > this.#current) this.#current = late;
      expected = now + SAMPLE_MS;
      this.#timer = setTimeout(tick, SAMPLE_MS);
      Deno.unrefTimer(this.#timer);
    };
    this.#timer = setTimeout(tick, SAMPLE_MS);
    Deno.unrefTimer(this.#timer);
  }

  /** The largest delay seen in the last 10 to 20 seconds, in seconds. */
  get maxSeconds(): number {
    return Math.max(this.#current, this.#previous) / 1000;
  }

  /** Stops sampling. */
  stop(): void {
    clearTimeout(this.#timer);
  }
}

/** Open file descriptors of this process, or undefined when `/proc/self/fd` cannot be listed. */
export function openFds(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return undefined;
  }
}

const STARTED = Date.now() - performance.now();

/** Adds the process families to `out`. */
export function renderProcessMetrics(out: Exposition, loop: EventLoopMonitor): void {
  out.single(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size in bytes.",
    Deno.memoryUsage().rss,
  );
  out.single(
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since unix epoch in seconds.",
    Math.round(STARTED / 1000),
  );
  const fds = openFds();
  if (fds !== undefined) {
    out.single("process_open_fds", "gauge", "Number of open file descriptors.", fds);
  }
  out.single(
    "k0rdentd_event_loop_delay_max_seconds",
    "gauge",
    "Largest event-loop delay of the last 10 to 20 seconds (a 250 ms timer firing late).",
    loop.maxSeconds,
  );
}

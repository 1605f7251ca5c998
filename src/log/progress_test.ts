import assert from "node:assert/strict";
import { Logger } from "./logger.ts";
import { formatBytes, formatDuration, Progress, progressMode } from "./progress.ts";

function setup(terminal: boolean) {
  const lines: string[] = [];
  const logger = new Logger();
  logger.configure({
    sink: { write: (l) => lines.push(l), isTerminal: () => terminal },
    colour: false,
  });
  let now = 0;
  return { lines, logger, clock: { now: () => now, advance: (ms: number) => (now += ms) } };
}

Deno.test("Progress off a TTY prints a line only every interval", () => {
  const { lines, logger, clock } = setup(false);
  const p = new Progress({
    label: "Loading",
    total: 4 * 1024 ** 3,
    mode: "lines",
    logger,
    now: clock.now,
    lineIntervalMs: 5000,
  });
  for (let i = 1; i <= 10; i++) {
    clock.advance(1000);
    p.set(i * 100 * 1024 ** 2, { done: i, total: 40 });
  }
  assert.equal(lines.length, 2);
  assert.equal(
    lines[0],
    "INFO  Loading: 500.0 MiB / 4.0 GiB (12.2%), 100.0 MiB/s, 5/40 done, ETA 36s",
  );
  p.done("Loaded");
  assert.equal(lines.at(-1), "INFO  Loaded");
});

Deno.test("Progress on a TTY draws a bar with rate and ETA", () => {
  const { lines, logger, clock } = setup(true);
  const p = new Progress({ label: "Pull", total: 1000, mode: "tty", logger, now: clock.now });
  clock.advance(1000);
  p.set(250);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /Pull: \[######------------------\] 250 B \/ 1000 B \(25\.0%\), 250 B\/s, ETA 3s/,
  );
});

Deno.test("Progress with JSON output emits one JSON event per line", () => {
  const { lines, logger, clock } = setup(false);
  const p = new Progress({
    label: "Load",
    total: 100,
    mode: "json",
    logger,
    now: clock.now,
    lineIntervalMs: 1000,
  });
  clock.advance(2000);
  p.set(50, { done: 1, total: 2 });
  p.done("ok");
  const events = lines.map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.event), ["start", "progress", "done"]);
  assert.equal(events[1].done, 50);
  assert.equal(events[1].itemsTotal, 2);
  assert.equal(events[1].etaSeconds, 2);
  // The keys of the JSON log lines, so one parser reads both.
  for (const e of events) {
    assert.equal(e.level, "info");
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  assert.equal(events[1].msg, "Load: 50 B / 100 B (50.0%), 25 B/s, 1/2 done, ETA 2s");
  assert.equal(events[2].msg, "ok");
});

Deno.test("progressMode() picks JSON events with --log-format json, and silence below info", () => {
  const { logger } = setup(true);
  assert.equal(progressMode("text", logger), "tty");
  logger.configure({ format: "json" });
  assert.equal(progressMode("text", logger), "json");
  logger.configure({ level: "warn" });
  assert.equal(progressMode("text", logger), "silent");
  assert.equal(progressMode("json", logger), "json");
});

Deno.test("formatBytes() and formatDuration() use binary units and h/m/s", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(22 * 1024 ** 3), "22.0 GiB");
  assert.equal(formatDuration(7), "7s");
  assert.equal(formatDuration(125), "2m05s");
  assert.equal(formatDuration(3723), "1h02m03s");
  assert.equal(formatDuration(Infinity), "?");
});

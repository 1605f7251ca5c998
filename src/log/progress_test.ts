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

/**
 * A terminal `columns` wide, enough of one for the logger's output: printable characters (wrapping
 * at the right edge), CR, LF (as the tty's onlcr: to the start of the next line) and ESC[2K.
 */
function terminal(columns: number) {
  const rows: string[] = [""];
  let row = 0;
  let col = 0;
  const put = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      if (text.startsWith("\x1b[2K", i)) {
        rows[row] = "";
        i += 3;
      } else if (text[i] === "\x1b") {
        throw new Error(`unexpected escape ${JSON.stringify(text.slice(i, i + 6))}`);
      } else if (text[i] === "\r") col = 0;
      else if (text[i] === "\n") {
        row++;
        col = 0;
      } else {
        if (col === columns) {
          row++;
          col = 0;
        }
        const line = (rows[row] ?? "").padEnd(col);
        rows[row] = line.slice(0, col) + text[i] + line.slice(col + 1);
        col++;
      }
      rows[row] ??= "";
    }
  };
  const logger = new Logger();
  logger.configure({
    sink: {
      write: (line) => put(line + "\n"),
      writeText: put,
      isTerminal: () => true,
      columns: () => columns,
    },
    colour: false,
  });
  /** The screen's lines, trailing spaces and the empty line under the cursor dropped. */
  const screen = () => rows.map((r) => r.trimEnd()).filter((r, i) => r !== "" || i < row);
  return { logger, screen };
}

Deno.test("Progress on an 80-column terminal redraws one line in place, log lines go above it, done erases it", () => {
  const { logger, screen } = terminal(80);
  let now = 0;
  const p = new Progress({
    label: "Loading bundle",
    total: 2.5 * 1024 ** 3,
    mode: "tty",
    logger,
    now: () => now,
    itemsLabel: "archives",
  });
  for (let i = 1; i <= 40; i++) {
    now += 250;
    p.set(i * 64 * 1024 ** 2, { done: Math.floor(i / 4), total: 0 });
    if (i % 10 === 0) logger.info(`Archive ${i} stored`);
    const shown = screen();
    // Only the last row holds the bar; none wraps.
    assert.equal(shown.filter((r) => r.startsWith("Loading bundle")).length, 1, shown.join("\n"));
    assert.match(shown.at(-1)!, /^Loading bundle: /);
    for (const r of shown) assert.ok(r.length < 80, `wider than 79: ${JSON.stringify(r)}`);
  }
  assert.deepEqual(screen(), [
    "INFO  Archive 10 stored",
    "INFO  Archive 20 stored",
    "INFO  Archive 30 stored",
    "INFO  Archive 40 stored",
    "Loading bundle: [##########] 100%    2.5 GiB / 2.5 GiB,  256.0 MiB/s, ETA 0s",
  ]);
  p.done("Loaded 28 references");
  assert.deepEqual(screen(), [
    "INFO  Archive 10 stored",
    "INFO  Archive 20 stored",
    "INFO  Archive 30 stored",
    "INFO  Archive 40 stored",
    "INFO  Loaded 28 references",
  ]);
});

/** A Progress on a clock the test moves. */
function clocked(options: Omit<ConstructorParameters<typeof Progress>[0], "now" | "mode">) {
  let now = 0;
  const progress = new Progress({ ...options, mode: "silent", now: () => now });
  return { progress, advance: (ms: number) => (now += ms) };
}

Deno.test("Progress.line(columns) fits the terminal: a bar where it has room, items where they fit, never wider", () => {
  const { progress, advance } = clocked({
    label: "Loading bundle",
    total: 2.5 * 1024 ** 3,
    itemsLabel: "archives",
  });
  advance(10_000);
  progress.set(1024 ** 3, { done: 10, total: 28 });
  assert.equal(
    progress.line(),
    "Loading bundle: 1.0 GiB / 2.5 GiB (40.0%), 102.4 MiB/s, archives 10/28, ETA 15s",
  );
  assert.equal(
    progress.line(80),
    "Loading bundle: [####------]  40%    1.0 GiB / 2.5 GiB,  102.4 MiB/s, ETA 15s",
  );
  assert.equal(
    progress.line(120),
    "Loading bundle: [##########--------------]  40%    1.0 GiB / 2.5 GiB,  102.4 MiB/s, ETA 15s, " +
      "archives 10/28",
  );
  // No room for a bar of 10: none; the rest is cut at the last column but one.
  assert.equal(progress.line(60), "Loading bundle:  40%    1.0 GiB / 2.5 GiB,  102.4 MiB/s, ET");
  assert.equal(progress.line(60).length, 59);
  // Total unknown: no bar, no percentage, no ETA; items without a total.
  const open = clocked({ label: "Reading", total: 0, itemsLabel: "archives" });
  open.advance(2000);
  open.progress.set(3 * 1024 ** 2, { done: 2, total: 0 });
  assert.equal(open.progress.line(80), "Reading: 3.0 MiB,    1.5 MiB/s, archives 2");
  // Items as the unit (install's wait): counts instead of bytes, no rate.
  const items = clocked({ label: "Waiting for pods", total: 12, unit: "items" });
  items.advance(3000);
  items.progress.set(3);
  assert.equal(
    items.progress.line(80),
    "Waiting for pods: [######------------------]  25%  3 / 12, ETA 9s",
  );
});

Deno.test("Progress.line(columns) keeps its fields in place while the numbers change", () => {
  const { progress, advance } = clocked({ label: "Load", total: 4 * 1024 ** 3 });
  const slash = new Set<number>();
  const rateEnd = new Set<number>();
  for (const mib of [1, 9, 99, 512, 1000, 1500, 4000]) {
    advance(1000);
    progress.set(mib * 1024 ** 2);
    const line = progress.line(80);
    slash.add(line.indexOf(" / "));
    rateEnd.add(line.indexOf("/s"));
  }
  assert.deepEqual([...slash].length, 1);
  assert.deepEqual([...rateEnd].length, 1);
});

Deno.test("Progress measures rate and ETA over the last 10 s, and shows no ETA in the first second", () => {
  const { progress, advance } = clocked({ label: "Load", total: 2000 * 1024 ** 2 });
  advance(500);
  progress.set(10 * 1024 ** 2);
  assert.doesNotMatch(progress.line(), /ETA/);
  // 10 s at 10 MiB/s, then 10 s at 50 MiB/s: the rate is the recent one, not the average (30).
  for (let s = 1; s <= 20; s++) {
    advance(s === 1 ? 500 : 1000);
    progress.set((s <= 10 ? s * 10 : 100 + (s - 10) * 50) * 1024 ** 2);
  }
  assert.equal(progress.completed, 600 * 1024 ** 2);
  assert.match(progress.line(), /600\.0 MiB \/ 2\.0 GiB \(30\.0%\), 50\.0 MiB\/s, ETA 28s$/);
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

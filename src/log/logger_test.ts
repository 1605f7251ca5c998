import assert from "node:assert/strict";
import { Logger, textValue } from "./logger.ts";

function collector(terminal = false) {
  const lines: string[] = [];
  return { lines, sink: { write: (l: string) => lines.push(l), isTerminal: () => terminal } };
}

Deno.test("Logger honours levels", () => {
  const { lines, sink } = collector();
  const log = new Logger();
  log.configure({ level: "warn", sink });
  log.error("e");
  log.warn("w");
  log.info("i");
  log.debug("d");
  assert.deepEqual(lines, ["ERROR e", "WARN  w"]);
});

Deno.test("Logger adds timestamps only at debug", () => {
  const { lines, sink } = collector();
  const log = new Logger();
  log.configure({ level: "debug", sink });
  log.info("hello");
  assert.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}hello$/);
});

Deno.test("Logger colours only on a TTY and never with NO_COLOR", () => {
  const saved = Deno.env.get("NO_COLOR");
  try {
    Deno.env.delete("NO_COLOR");
    const tty = collector(true);
    const a = new Logger();
    a.configure({ sink: tty.sink });
    a.warn("x");
    assert.ok(tty.lines[0].includes("\x1b["));
    const pipe = collector(false);
    const b = new Logger();
    b.configure({ sink: pipe.sink });
    b.warn("x");
    assert.ok(!pipe.lines[0].includes("\x1b["));
    Deno.env.set("NO_COLOR", "1");
    const noColour = collector(true);
    const c = new Logger();
    c.configure({ sink: noColour.sink });
    c.warn("x");
    assert.ok(!noColour.lines[0].includes("\x1b["));
  } finally {
    if (saved === undefined) Deno.env.delete("NO_COLOR");
    else Deno.env.set("NO_COLOR", saved);
  }
});

Deno.test("Logger in JSON format writes one object per line with level, time, msg and fields", () => {
  const { lines, sink } = collector(true);
  const log = new Logger();
  log.configure({ level: "info", format: "json", sink });
  log.warn('Port "5000" busy', { port: 5000, retry: true, msg: "not mine" });
  log.debug("hidden");
  log.raw("(run with --help for usage)");
  log.raw("error: unknown option '--x'", "error");
  assert.equal(lines.length, 3);
  const [a, b, c] = lines.map((l) => JSON.parse(l));
  assert.deepEqual(Object.keys(a), ["level", "time", "msg", "port", "retry"]);
  assert.deepEqual([a.level, a.msg, a.port, a.retry], ["warn", 'Port "5000" busy', 5000, true]);
  assert.ok(!Number.isNaN(Date.parse(a.time)));
  assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual([b.level, b.msg], ["info", "(run with --help for usage)"]);
  assert.deepEqual([c.level, c.msg], ["error", "error: unknown option '--x'"]);
  assert.ok(!lines.join("").includes("\x1b["), "no colour escapes in JSON, even on a TTY");
});

Deno.test("Logger in text format appends fields as key=value, quoting when needed", () => {
  const { lines, sink } = collector();
  const log = new Logger();
  log.configure({ sink });
  log.info("served", { status: 200, path: "/v2/a b", skipped: undefined });
  assert.deepEqual(lines, ['INFO  served status=200 path="/v2/a b"']);
});

Deno.test("textValue() quotes control characters a client could send to a terminal", () => {
  assert.equal(textValue("docker.io"), "docker.io");
  assert.equal(textValue("\u001b[2J"), '"\\u001b[2J"');
  assert.equal(textValue("a\u007fb"), JSON.stringify("a\u007fb"));
  assert.equal(textValue("two words"), '"two words"');
});

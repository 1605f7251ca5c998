import assert from "node:assert/strict";
import { CommanderError } from "commander";
import { CancelledError, ReportedFailure, ToolError, UsageError, UserError } from "../errors.ts";
import { log } from "../log/logger.ts";
import { countSignals, exitCodeOf } from "./main.ts";

function capture(level: "info" | "debug", fn: () => number): { code: number; lines: string[] } {
  const lines: string[] = [];
  log.configure({
    level,
    sink: { write: (l) => lines.push(l), isTerminal: () => false },
    colour: false,
  });
  try {
    return { code: fn(), lines };
  } finally {
    log.configure({
      level: "info",
      sink: { write: (l) => lines.push(l), isTerminal: () => false },
      colour: undefined,
    });
  }
}

Deno.test("exitCodeOf() maps each error family to its exit code", () => {
  assert.equal(capture("info", () => exitCodeOf(new UsageError("bad flag"))).code, 2);
  assert.equal(
    capture("info", () => exitCodeOf(new CommanderError(1, "commander.unknownOption", "x"))).code,
    2,
  );
  assert.equal(
    capture("info", () => exitCodeOf(new CommanderError(0, "commander.helpDisplayed", ""))).code,
    0,
  );
  assert.equal(capture("info", () => exitCodeOf(new UserError("no file"))).code, 1);
  assert.equal(capture("info", () => exitCodeOf(new ToolError(["helm", "x"], 3, "boom"))).code, 1);
  assert.equal(capture("info", () => exitCodeOf(new CancelledError())).code, 130);
  assert.equal(
    capture("info", () => exitCodeOf(new TypeError("undefined is not a function"))).code,
    70,
  );
});

Deno.test("exitCodeOf() prints the stack of an unexpected error only at debug", () => {
  const quiet = capture("info", () => exitCodeOf(new TypeError("oops")));
  assert.ok(quiet.lines.some((l) => l.includes("Unexpected error: oops")));
  assert.ok(!quiet.lines.some((l) => l.includes("    at ")));
  const loud = capture("debug", () => exitCodeOf(new TypeError("oops")));
  assert.ok(loud.lines.some((l) => l.includes("    at ")));
});

Deno.test("ToolError carries argv, code and the stderr tail in its message", () => {
  const err = new ToolError(["k0s", "start"], 1, "line1\nfailed to start: port busy\n");
  assert.equal(
    err.message,
    'Command "k0s start" failed with exit code 1: line1 | failed to start: port busy',
  );
  assert.deepEqual(err.argv, ["k0s", "start"]);
});

Deno.test("exitCodeOf(): a failure the command already reported exits 1 without a second line", () => {
  const r = capture(
    "info",
    () => exitCodeOf(new ReportedFailure("Not healthy: k0s is not installed")),
  );
  assert.equal(r.code, 1);
  assert.deepEqual(r.lines, []);
});

Deno.test("countSignals() takes a signal within 100 ms of the first for the same Ctrl-C (deno task passes it on)", () => {
  let now = 1000;
  const count = countSignals(() => now);
  assert.equal(count(), "first");
  now += 4; // deno task's copy of the terminal's Ctrl-C
  assert.equal(count(), "same");
  now += 500; // a second press
  assert.equal(count(), "again");
  assert.equal(count(), "again");
});

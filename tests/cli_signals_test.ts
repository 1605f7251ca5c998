/**
 * Ctrl-C as the CLI gets it: once from the terminal and, under `deno task`, a second time from the
 * task runner a few milliseconds later. Both must count as one press (a clean cancel with its
 * message), not as the second press that exits at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnCli } from "./helpers/cli.ts";

/**
 * One load of /dev/zero, interrupted by two SIGINTs `gapMs` apart; null when the load had
 * already finished cancelling before the second one (it can take less than the gap).
 */
async function interruptTwice(gapMs: number) {
  const storage = await Deno.makeTempDir({ prefix: "cli-signals-" });
  try {
    const proc = spawnCli(["bundle", "load", "/dev/zero", "--storage", storage, "--verify=false"]);
    // Reading has begun once the load's journal is written.
    const deadline = Date.now() + 30_000;
    const journals = join(storage, "bundle", "loads");
    while (!(await Array.fromAsync(Deno.readDir(journals)).catch(() => [])).length) {
      assert.ok(Date.now() < deadline, "the load did not start within 30 s");
      await new Promise((r) => setTimeout(r, 20));
    }
    proc.kill("SIGINT");
    await new Promise((r) => setTimeout(r, gapMs));
    let second = true;
    try {
      proc.kill("SIGINT");
    } catch {
      second = false; // Exited already: this attempt says nothing about the second signal.
    }
    const res = await proc.result;
    return second ? res : null;
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
}

Deno.test("one Ctrl-C delivered twice within milliseconds (deno task) cancels cleanly", async () => {
  // 3 ms apart, as deno task's copy came 3.5 ms after the terminal's here: apart enough not to be
  // merged into the first while pending (as signals are), and soon enough to land while the load
  // is still cancelling, so that a second press counted as such would exit before the load's last
  // line. A load that finished cancelling within the gap is tried again.
  for (let attempt = 1; attempt <= 5; attempt++) {
    const res = await interruptTwice(3);
    if (!res) continue;
    assert.equal(res.code, 130, res.stderr);
    assert.match(
      res.stderr,
      /ERROR +Interrupted by SIGINT: the load of "\/dev\/zero" stopped; rerun to resume/,
    );
    assert.equal(res.stderr.match(/Received SIGINT/g)?.length, 1, res.stderr);
    return;
  }
  assert.fail("in 5 attempts the load always finished cancelling before the second SIGINT");
});

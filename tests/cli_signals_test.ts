/**
 * Ctrl-C as the CLI gets it: once from the terminal and, under `deno task`, a second time from the
 * task runner a few milliseconds later. Both must count as one press (a clean cancel with its
 * message), not as the second press that exits at once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnCli } from "./helpers/cli.ts";

Deno.test("one Ctrl-C delivered twice within milliseconds (deno task) cancels cleanly", async () => {
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
    // Apart enough that the second is not merged into the first while pending (as signals are),
    // close enough to be the same press (deno task's copy came 3.5 ms after the terminal's here).
    proc.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 30));
    proc.kill("SIGINT");
    const res = await proc.result;
    assert.equal(res.code, 130, res.stderr);
    assert.match(
      res.stderr,
      /ERROR +Interrupted by SIGINT: the load of "\/dev\/zero" stopped; rerun to resume/,
    );
    assert.equal(res.stderr.match(/Received SIGINT/g)?.length, 1, res.stderr);
  } finally {
    await Deno.remove(storage, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { ToolError } from "../errors.ts";
import { FakeRunner } from "./fake_runner.ts";
import { ProcessRunner, runChecked, STDERR_TAIL_BYTES } from "./runner.ts";

Deno.test("ProcessRunner returns exit code, stdout and the stderr tail", async () => {
  const r = await new ProcessRunner().run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.deepEqual([r.code, r.stdout, r.stderrTail, r.timedOut], [3, "out\n", "err\n", false]);
});

Deno.test("ProcessRunner keeps only the tail of a long stderr", async () => {
  const r = await new ProcessRunner().run([
    "sh",
    "-c",
    "i=0; while [ $i -lt 2000 ]; do echo line$i >&2; i=$((i+1)); done; echo last >&2",
  ]);
  assert.ok(r.stderrTail.length <= STDERR_TAIL_BYTES);
  assert.ok(r.stderrTail.endsWith("line1999\nlast\n"));
});

Deno.test("ProcessRunner feeds stdin and environment", async () => {
  const r = await new ProcessRunner().run(["sh", "-c", 'cat; printf "%s" "$X"'], {
    stdin: "secret-in\n",
    env: { X: "env-x" },
  });
  assert.equal(r.stdout, "secret-in\nenv-x");
});

Deno.test("ProcessRunner kills a program at its timeout", async () => {
  const started = Date.now();
  const r = await new ProcessRunner().run(["sleep", "30"], { timeoutMs: 200 });
  assert.ok(r.timedOut);
  assert.ok(Date.now() - started < 5000);
  await assert.rejects(
    () => runChecked(new ProcessRunner(), ["sleep", "30"], { timeoutMs: 100 }),
    /timed out after 100 ms/,
  );
});

Deno.test("ProcessRunner reports a missing program as a ToolError", async () => {
  await assert.rejects(
    () => new ProcessRunner().run(["k0rdentd-no-such-program"]),
    (err: unknown) => err instanceof ToolError && /not found on PATH/.test(err.message),
  );
  await assert.rejects(
    () => new ProcessRunner().run(["/nonexistent/k0rdentd-tool"]),
    (err: unknown) =>
      err instanceof ToolError && /"\/nonexistent\/k0rdentd-tool": no such file$/.test(err.message),
  );
});

Deno.test("runChecked() throws ToolError with argv and stderr tail on failure", async () => {
  await assert.rejects(
    () => runChecked(new ProcessRunner(), ["sh", "-c", "echo nope >&2; exit 4"]),
    (err: unknown) => err instanceof ToolError && err.code === 4 && err.stderrTail === "nope\n",
  );
});

Deno.test("FakeRunner answers patterns, records calls, and fails unmatched calls", async () => {
  const fake = new FakeRunner()
    .on("k0s status", { stdout: "Version: v1.32.8+k0s.0\n" })
    .on(/^helm upgrade/, (call) => ({ code: call.argv.includes("--plain-http") ? 0 : 1 }));
  assert.equal((await fake.run(["k0s", "status"])).stdout, "Version: v1.32.8+k0s.0\n");
  assert.equal((await fake.run(["helm", "upgrade", "--plain-http"])).code, 0);
  assert.equal((await fake.run(["helm", "upgrade"])).code, 1);
  assert.equal((await fake.run(["kubectl", "get"], { stdin: "doc" })).code, 127);
  assert.deepEqual(fake.commandLines, [
    "k0s status",
    "helm upgrade --plain-http",
    "helm upgrade",
    "kubectl get",
  ]);
  assert.equal(fake.calls[3].stdin, "doc");
});

import assert from "node:assert/strict";
import { join } from "node:path";
import { type DualWriter, OrderedWriter } from "./ordered_writer.ts";

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s);

/** A stream whose background writes wait for `release()` and take at most 3 bytes a call. */
function slowStream() {
  let text = "";
  const waiting: (() => void)[] = [];
  let held = true;
  const stream: DualWriter = {
    writeSync(p) {
      text += new TextDecoder().decode(p);
      return p.length;
    },
    write(p) {
      const n = Math.min(3, p.length);
      const done = () => {
        text += new TextDecoder().decode(p.subarray(0, n));
        return n;
      };
      if (!held) return Promise.resolve(done());
      return new Promise((resolve) => waiting.push(() => resolve(done())));
    },
  };
  return {
    stream,
    text: () => text,
    release() {
      held = false;
      for (const w of waiting.splice(0)) w();
    },
  };
}

Deno.test("OrderedWriter keeps the order of lines written at once and in the background", async () => {
  const s = slowStream();
  const out = new OrderedWriter(s.stream);
  out.writeSync(bytes("one\n"));
  assert.equal(s.text(), "one\n"); // nothing in flight: at once
  const batch = out.write("a1\na2");
  out.writeSync(bytes("two\n")); // behind the batch
  const batch2 = out.write("b1");
  assert.equal(s.text(), "one\n");
  s.release();
  await batch;
  await batch2;
  assert.equal(s.text(), "one\na1\na2\ntwo\nb1\n");
  out.writeSync(bytes("three\n"));
  assert.equal(s.text(), "one\na1\na2\ntwo\nb1\nthree\n");
  assert.equal(out.dropped, 0);
});

Deno.test("OrderedWriter drops and counts lines beyond 1 MiB queued behind a stuck write", async () => {
  const s = slowStream();
  const out = new OrderedWriter(s.stream);
  const written = out.write("batch");
  const line = bytes("x".repeat(1023) + "\n");
  for (let i = 0; i < 1024 + 5; i++) out.writeSync(line);
  assert.equal(out.dropped, 5);
  s.release();
  await written;
  assert.equal(s.text().length, 6 + 1024 * 1024);
});

Deno.test("OrderedWriter loses what is queued when the stream fails, and goes on", async () => {
  let fail = true;
  let text = "";
  const out = new OrderedWriter({
    writeSync(p) {
      text += new TextDecoder().decode(p);
      return p.length;
    },
    write(p) {
      if (fail) return Promise.reject(new Deno.errors.BrokenPipe("gone"));
      text += new TextDecoder().decode(p);
      return Promise.resolve(p.length);
    },
  });
  await out.write("lost"); // resolves: the log has nowhere to report to
  fail = false;
  out.writeSync(bytes("after\n"));
  await out.write("batch");
  assert.equal(text, "after\nbatch\n");
});

Deno.test("OrderedWriter on a real file: every line, in order", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "log");
    using file = await Deno.open(path, { write: true, create: true });
    const out = new OrderedWriter(file);
    const expected: string[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const line = `line ${i} ✓`.repeat(i % 7 ? 1 : 300);
      expected.push(line + "\n");
      if (i % 3) out.writeSync(bytes(line + "\n"));
      else writes.push(out.write(line));
    }
    await Promise.all(writes);
    assert.equal(await Deno.readTextFile(path), expected.join(""));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

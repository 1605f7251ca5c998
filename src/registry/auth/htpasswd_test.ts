// CredentialChecker with real bcrypt (cost 10) in its worker: unknown users cost as much as
// known ones, successes are remembered for a while, failures per client and waiting checks
// are capped.
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { RegistryError } from "../errors.ts";
import { CredentialChecker, HEADER_CACHE_MS, parseHtpasswd } from "./htpasswd.ts";

const USERS = parseHtpasswd(`alice:${bcrypt.hashSync("s3cret", 10)}\n`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function tooMany(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RegistryError && err.code === "TOO_MANY_REQUESTS", String(err));
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("CredentialChecker: an unknown user costs a bcrypt comparison like a known one", async () => {
  const checker = new CredentialChecker(USERS, { maxFailures: 100 });
  try {
    await checker.check("alice", "warm-up", "c");
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [a, ta] = await timed(() => checker.check("alice", `wrong${i}`, "c"));
      const [b, tb] = await timed(() => checker.check(`mallory${i}`, "s3cret", "c"));
      assert.equal(a, undefined);
      assert.equal(b, undefined);
      known.push(ta);
      unknown.push(tb);
    }
    assert.ok(median(known) > 5, `bcrypt ran for the known user (${median(known)} ms)`);
    assert.ok(
      median(unknown) > median(known) / 3,
      `unknown ${median(unknown).toFixed(1)} ms vs known ${median(known).toFixed(1)} ms`,
    );
  } finally {
    checker.close();
  }
});

Deno.test("CredentialChecker: a success is remembered for cacheMs, then checked again", async () => {
  let now = 1_000_000;
  const checker = new CredentialChecker(USERS, { maxFailures: 100, cacheMs: 60_000 }, () => now);
  try {
    const [first, slow] = await timed(() => checker.check("alice", "s3cret", "c"));
    assert.equal(first, "alice");
    const [again, fast] = await timed(() => checker.check("alice", "s3cret", "c"));
    assert.equal(again, "alice");
    assert.ok(fast < slow / 5, `remembered: ${fast.toFixed(2)} ms vs ${slow.toFixed(1)} ms`);
    assert.equal(await checker.check("alice", "s3cretX", "c"), undefined, "only that password");
    now += 61_000;
    const [late, slowAgain] = await timed(() => checker.check("alice", "s3cret", "c"));
    assert.equal(late, "alice");
    assert.ok(slowAgain > fast * 5, "after cacheMs bcrypt runs again");
  } finally {
    checker.close();
  }
});

Deno.test("CredentialChecker: verifiedHeader passes only the exact verified Authorization, for a while", async () => {
  let now = 1_000_000;
  const checker = new CredentialChecker(USERS, { maxFailures: 100, cacheMs: 60_000 }, () => now);
  const header = (creds: string) => `Basic ${btoa(creds)}`;
  let parsed = 0;
  const parse = (h: string): [string, string] | undefined => {
    parsed++;
    const creds = atob(h.slice("Basic ".length));
    const colon = creds.indexOf(":");
    return colon < 0 ? undefined : [creds.slice(0, colon), creds.slice(colon + 1)];
  };
  try {
    const good = header("alice:s3cret");
    assert.equal(checker.verifiedHeader(good, parse), undefined, "nothing verified yet");
    assert.equal(await checker.check("alice", "s3cret", "c"), "alice");
    assert.equal(checker.verifiedHeader(good, parse), "alice");
    const parsedOnce = parsed;
    assert.equal(checker.verifiedHeader(good, parse), "alice");
    assert.equal(parsed, parsedOnce, "the same value again is matched as it came");
    for (const wrong of ["alice:s3cretX", "alice:s3cre", "alice:", "bob:s3cret", "alice"]) {
      assert.equal(checker.verifiedHeader(header(wrong), parse), undefined, wrong);
    }
    assert.equal(
      checker.verifiedHeader(`${good} `, parse),
      "alice",
      "same credentials, other text",
    );
    now += HEADER_CACHE_MS + 1;
    const before = parsed;
    assert.equal(checker.verifiedHeader(good, parse), "alice", "still within cacheMs");
    assert.equal(parsed, before + 1, "checked again once the value was forgotten");
    now += 60_000;
    assert.equal(checker.verifiedHeader(good, parse), undefined, "after cacheMs: a full check");
  } finally {
    checker.close();
  }
});

Deno.test("CredentialChecker: too many failures lock a client out for the window", async () => {
  let now = 1_000_000;
  const checker = new CredentialChecker(USERS, { maxFailures: 3, windowMs: 60_000 }, () => now);
  try {
    assert.equal(await checker.check("alice", "s3cret", "10.0.0.9"), "alice");
    for (let i = 0; i < 3; i++) {
      assert.equal(await checker.check("bob", "x", "10.0.0.1"), undefined);
    }
    await tooMany(
      checker.check("alice", "guess", "10.0.0.1"),
      /^Too many failed logins from 10\.0\.0\.1: try again in 60 s$/,
    );
    assert.equal(
      await checker.check("alice", "s3cret", "10.0.0.1"),
      "alice",
      "credentials remembered as good cost no bcrypt and still pass",
    );
    assert.equal(await checker.check("bob", "x", "10.0.0.2"), undefined, "others go on");
    now += 30_000;
    await tooMany(checker.check("alice", "wrong", "10.0.0.1"), /try again in 30 s/);
    now += 31_000;
    assert.equal(await checker.check("alice", "s3cret", "10.0.0.1"), "alice", "window over");
  } finally {
    checker.close();
  }
});

Deno.test("CredentialChecker: checks beyond maxWaiting are refused, not queued", async () => {
  const checker = new CredentialChecker(USERS, { maxFailures: 100, maxWaiting: 2 });
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => checker.check("alice", `guess${i}`, "c")),
    );
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
      "rejected",
    ]);
    const refused = (results[2] as PromiseRejectedResult).reason;
    assert.match(refused.message, /^Too many logins are being checked: try again$/);
  } finally {
    checker.close();
  }
});

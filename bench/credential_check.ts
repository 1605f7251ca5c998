/**
 * What the `--auth-pulls` fast path costs per request once a client's credentials passed bcrypt:
 * `recentlyVerifiedUser` with the same `Authorization` value as a request of the last seconds
 * (matched as it came), and with a value it has to decode and look up by its SHA-256 cache key
 * again (what every request paid before; here by moving the checker's clock past
 * `HEADER_CACHE_MS` before each call). See docs/benchmarks.md.
 *
 *   npx deno run -A bench/credential_check.ts [--n 100000]
 */
import bcrypt from "bcryptjs";
import { recentlyVerifiedUser } from "../src/registry/auth/access.ts";
import {
  CredentialChecker,
  HEADER_CACHE_MS,
  parseHtpasswd,
} from "../src/registry/auth/htpasswd.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, { n: { type: "string", default: "100000" } });
const N = Number(args.n);
let now = 0;
const users = parseHtpasswd(`bench:${bcrypt.hashSync("bench-password", 4)}\n`);
// A digest cache entry that outlives the run: only the fast path's own work is measured.
const checker = new CredentialChecker(users, { maxFailures: 10, cacheMs: 1e15 }, () => now);
try {
  if (await checker.check("bench", "bench-password") !== "bench") throw new Error("check failed");
  const req = new Request("http://127.0.0.1/v2/a/manifests/v1", {
    headers: { authorization: `Basic ${btoa("bench:bench-password")}` },
  });
  const cases: [string, () => void][] = [
    ["the same Authorization value again (string match)", () => {}],
    ["a value to decode and hash again (SHA-256 key)", () => {
      now += HEADER_CACHE_MS + 1;
    }],
  ];
  console.log(
    `credential check: ${N} calls each, best of 5 rounds, load ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }`,
  );
  for (const [name, before] of cases) {
    let best = Infinity;
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      for (let i = 0; i < N; i++) {
        before();
        if (recentlyVerifiedUser(checker, req) !== "bench") throw new Error("not verified");
      }
      best = Math.min(best, (performance.now() - t) / N * 1000);
    }
    console.log(`  ${name}: ${best.toFixed(2)} us/call`);
  }
} finally {
  checker.close();
}

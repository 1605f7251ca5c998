/**
 * k0s download throughput: `downloadK0s` (streaming fetch + SHA-256 + atomic
 * write, checked against sha256sums.txt) side by side with `curl -o` followed by
 * `sha256sum`, from a local HTTP server on 127.0.0.1, for a k0s-sized file
 * (k0s is ~250 MB; the network to GitHub is unreachable here).
 *
 *   npx deno run -A bench/k0s_download.ts [MiB]
 */
import { join } from "node:path";
import { downloadK0s } from "../src/k0s/download.ts";
import { exitOnHelp, usageError } from "./bench_args.ts";

exitOnHelp(import.meta.url);

const MIB = Number(Deno.args[0] ?? 256);
if (!Number.isInteger(MIB) || MIB < 1 || Deno.args.length > 1) {
  usageError(
    import.meta.url,
    `expected one size in MiB (a whole number), not "${Deno.args.join(" ")}"`,
  );
}
const V = "v1.32.8+k0s.0";
const FILE = `k0s-${V}-amd64`;
const ROUNDS = 3;

const dir = await Deno.makeTempDir({ prefix: "k0s-download-bench-" });
const source = join(dir, "source");
{
  const chunk = new Uint8Array(1024 * 1024);
  const file = await Deno.open(source, { write: true, create: true });
  for (let i = 0; i < MIB; i++) {
    crypto.getRandomValues(chunk.subarray(0, 65536));
    await file.write(chunk);
  }
  file.close();
}
const sum = new TextDecoder().decode(
  (await new Deno.Command("sha256sum", { args: [source] }).output()).stdout,
).split(" ")[0];

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
  const path = decodeURIComponent(new URL(req.url).pathname);
  if (path === `/${V}/sha256sums.txt`) return new Response(`${sum}  ${FILE}\n`);
  if (path === `/${V}/${FILE}`) {
    const file = await Deno.open(source);
    return new Response(file.readable, { headers: { "content-length": String(MIB * 1048576) } });
  }
  return new Response("no", { status: 404 });
});
const base = `http://127.0.0.1:${server.addr.port}`;

async function time(fn: () => Promise<void>): Promise<number> {
  const best: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await fn();
    best.push(performance.now() - t);
  }
  return Math.min(...best);
}

const target = join(dir, "k0s");
const ours = await time(async () => {
  await downloadK0s({
    baseUrl: base,
    version: V,
    arch: "amd64",
    target,
    output: "text",
    signal: new AbortController().signal,
  });
  await Deno.remove(target);
});
const curl = await time(async () => {
  const url = `${base}/${encodeURIComponent(V)}/${FILE}`;
  const c = await new Deno.Command("curl", { args: ["-sSf", "-o", target, url] }).output();
  if (c.code !== 0) throw new Error("curl failed");
  const s = await new Deno.Command("sha256sum", { args: [target] }).output();
  if (!new TextDecoder().decode(s.stdout).startsWith(sum)) throw new Error("sum mismatch");
  await Deno.remove(target);
});
await server.shutdown();
await Deno.remove(dir, { recursive: true });

const rate = (ms: number) => (MIB / (ms / 1000)).toFixed(0);
console.log(`file: ${MIB} MiB, best of ${ROUNDS}`);
console.log(
  `downloadK0s (fetch + SHA-256 + atomic write): ${ours.toFixed(0)} ms, ${rate(ours)} MiB/s`,
);
console.log(
  `curl -o + sha256sum:                         ${curl.toFixed(0)} ms, ${rate(curl)} MiB/s`,
);
console.log(`ratio downloadK0s / curl+sha256sum: ${(ours / curl).toFixed(2)}`);

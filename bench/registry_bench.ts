/**
 * The registry against Debian's docker-registry (CNCF Distribution 2.8), side by side on the
 * same data in one run: blob GET throughput (1 and 8 curl clients, median of 3), manifest GET
 * req/s and p99 with wrk at 32 connections, blob HEAD req/s and p99 with `ab -k -i` at 32
 * connections, push of a large blob with curl, median of 3 (monolithic: POST + one PUT;
 * chunked: POST + PATCHes with Content-Range + PUT), and the peak RSS of each server.
 *
 *   npx deno run -A bench/registry_bench.ts [--blob-mib 256] [--push-mib 1024] [--seconds 5]
 *     [--blob-rounds 3] [--blob-only]
 *
 * Blob GET rounds also run a bare `Deno.serve` (`bare_registry_server.ts`) that streams the same
 * number of bytes from memory in 512 KiB chunks, without reading a file: the runtime's ceiling for
 * a streamed response body. They rotate the three servers (every other round in reverse order) and
 * report, per client count, the median of the per-round throughput ratios to docker-registry,
 * each server's CPU time per download
 * (user + system from `/proc/<pid>/stat`, which other load on the machine disturbs less than wall
 * time), its context switches per download (all threads, `/proc/<pid>/task/<tid>/status`) and
 * its peak RSS during those downloads. `--blob-only` stops after the blob GETs.
 *
 * With `--observability`, instead: manifest GET req/s and p99 (wrk -c32) of k0rdentd alone with
 * metrics and access log off ("today"), metrics only, access log only, both (the defaults), and
 * both with `--log-format json`, all serving the same data at once, measured in interleaved
 * rounds (`--rounds`, default 5; every other round in reverse order), medians reported. Each daemon's stderr goes to a file (as
 * journald stores it), whose lines are counted.
 *
 * `--variants 0,3` picks daemons by their index in that list (the first one is the baseline).
 * Besides medians it gives, per daemon, the median over rounds of its ratio to the baseline's
 * figure in the same round: adjacent in time, the pair shares most of the other load.
 *
 *   npx deno run -A bench/registry_bench.ts --observability [--rounds 5] [--seconds 5]
 *     [--variants 0,1,2,3,4] [--compare-with DIR] [--cpu-prof]
 *
 * `--compare-with DIR` runs every variant but the first (the baseline) twice: from `DIR/main.ts`
 * (another checkout, e.g. `git worktree add /tmp/before <commit>` with node_modules linked) and
 * from this tree, interleaved in the same rounds: a before/after comparison the machine's other
 * load disturbs alike.
 *
 * `--cpu-prof` runs the daemons under `deno run --cpu-prof` and reports, per daemon, the share of
 * its busy JS-thread samples spent in the instrument's per-request `done` (metrics and the access
 * log's `record`), in the access log's batch work and in the ordered stderr writer.
 *
 * With `--hot-reads`, instead: the registry's metadata reads against the runtime's ceiling. A
 * bare server (`bare_registry_server.ts`: the same manifest bytes and headers, no storage) on
 * `Deno.serve` and on the daemon's own listener code, the same on `Deno.serve` reading the request
 * headers k0rdentd reads (`--read-headers`), and k0rdentd with access log and metrics off, with
 * both on (the defaults) and with `--auth-pulls`, all up at once, measured in interleaved rounds for
 * manifest GET by tag and by digest (wrk -t2 -c32), manifest HEAD by tag and by digest and blob
 * HEAD (`ab -k -i -c32`: wrk waits for a body after HEAD). Per read type and server: req/s
 * (best round, median), p99, the server's CPU time per request (from /proc, steadier than req/s
 * on a shared machine) and the per-round ratio to bare `Deno.serve`.
 *
 *   npx deno run -A bench/registry_bench.ts --hot-reads [--rounds 3] [--seconds 3]
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { digestOf, Hasher } from "../src/registry/digest.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { REGISTRY_SERVE_PERMISSIONS } from "../src/permissions.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { freePort } from "../tests/helpers/free_port.ts";
import { waitUp } from "./wait_up.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  "blob-mib": { type: "string", default: "256" },
  "push-mib": { type: "string", default: "1024" },
  "chunk-mib": { type: "string", default: "64" },
  seconds: { type: "string", default: "5" },
  observability: { type: "boolean", default: false },
  rounds: { type: "string", default: "5" },
  variants: { type: "string", default: "0,1,2,3,4" },
  "blob-rounds": { type: "string", default: "3" },
  "blob-only": { type: "boolean", default: false },
  "cpu-prof": { type: "boolean", default: false },
  "compare-with": { type: "string" },
  "hot-reads": { type: "boolean", default: false },
});
const MIB = 1 << 20;
const BLOB = Number(args["blob-mib"]) * MIB;
const PUSH = Number(args["push-mib"]) * MIB;
const CHUNK = Number(args["chunk-mib"]) * MIB;
const SECONDS = Number(args.seconds);
const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

interface Server {
  name: string;
  base: string;
  child: Deno.ChildProcess;
  peakRssKiB: number;
  /** Lines the server wrote to stderr so far (k0rdentd only). */
  stderrLines?: () => number;
  /** `user:password` its reads need (`--auth-pulls`), when they do. */
  basicAuth?: string;
}

/**
 * Starts k0rdentd on `dir` (plain HTTP, no files listener) with `extra` arguments. Its stderr
 * goes to `<dir>.log` (as journald stores a service's), which is counted in lines.
 */
async function startOurs(
  dir: string,
  extra: string[] = [],
  name = "k0rdentd",
  denoFlags: string[] = [],
  main = MAIN_TS,
): Promise<Server> {
  const port = freePort();
  const logFile = `${dir}.log`;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'log=$1; shift; exec "$@" 2>"$log"',
      "sh",
      logFile,
      Deno.execPath(),
      "run",
      "--quiet",
      ...denoFlags,
      ...REGISTRY_SERVE_PERMISSIONS,
      main,
      "registry",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--storage",
      dir,
      "--files-port",
      "0",
      // Plain HTTP, as docker-registry is served here (the daemon's default is --tls auto).
      "--tls",
      "off",
      "--log-level",
      "warn",
      // Its own metrics port (the default 127.0.0.1:5001 is one for all); --debug-address
      // in `extra` wins.
      "--debug-address",
      "127.0.0.1:0",
      ...extra,
    ],
    env: { K0RDENTD_CONFIG_FILE: "/dev/null" },
    stdout: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUp(base);
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}: ${await Deno.readTextFile(logFile)}`);
  }
  const stderrLines = () => Deno.readTextFileSync(logFile).split("\n").length - 1;
  return { name, base, child, peakRssKiB: 0, stderrLines };
}

async function startDistribution(dir: string): Promise<Server> {
  const port = freePort();
  const config = join(dir, "config.yml");
  await Deno.mkdir(join(dir, "data"), { recursive: true });
  await Deno.writeTextFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "  cache:",
      "    blobdescriptor: inmemory",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  await waitUp(base);
  return { name: "docker-registry", base, child, peakRssKiB: 0 };
}

function sampleRss(servers: Server[]): ReturnType<typeof setInterval> {
  return setInterval(() => {
    for (const s of servers) {
      try {
        const status = Deno.readTextFileSync(`/proc/${s.child.pid}/status`);
        const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        s.peakRssKiB = Math.max(s.peakRssKiB, kib);
      } catch {
        // Exited.
      }
    }
  }, 100);
}

/** Writes `size` random bytes to `path` and returns their sha256 digest. */
async function randomFile(path: string, size: number): Promise<string> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const hasher = new Hasher();
  const buf = new Uint8Array(MIB);
  for (let done = 0; done < size; done += buf.length) {
    for (let i = 0; i < buf.length; i += 65536) crypto.getRandomValues(buf.subarray(i, i + 65536));
    const part = buf.subarray(0, Math.min(buf.length, size - done));
    hasher.update(part);
    let off = 0;
    while (off < part.length) off += await file.write(part.subarray(off));
  }
  file.close();
  return hasher.digest();
}

function absolute(base: string, location: string): string {
  return location.startsWith("http") ? location : `${base}${location}`;
}

async function startUpload(s: Server, repo: string): Promise<string> {
  const res = await fetch(`${s.base}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  await res.body?.cancel();
  if (res.status !== 202) throw new Error(`${s.name}: POST upload gave ${res.status}`);
  return absolute(s.base, res.headers.get("Location")!);
}

function withDigest(location: string, digest: string): string {
  return `${location}${location.includes("?") ? "&" : "?"}digest=${digest}`;
}

/** Sends `file` with curl (a neutral C client); returns the status and Location. */
async function curlSend(method: string, url: string, file: string | undefined, headers: string[]) {
  const args = ["-sS", "-o", "/dev/null", "-D", "-", "-X", method, "-H", "Expect:"];
  for (const h of headers) args.push("-H", h);
  if (file) args.push("-H", "Content-Type: application/octet-stream", "-T", file);
  args.push(url);
  const out = await run("curl", args);
  const status = Number(/^HTTP\/[\d.]+ (\d+)/m.exec(out)?.[1]);
  const location = /^location:\s*(\S+)/im.exec(out)?.[1];
  return { status, location };
}

/** POST + one PUT with the whole body; returns seconds. */
async function pushMonolithic(s: Server, repo: string, path: string, digest: string) {
  const t = performance.now();
  const location = await startUpload(s, repo);
  const res = await curlSend("PUT", withDigest(location, digest), path, []);
  if (res.status !== 201) throw new Error(`${s.name}: monolithic PUT gave ${res.status}`);
  return (performance.now() - t) / 1000;
}

/** POST + PATCH of each chunk file with Content-Range + PUT; returns seconds. */
async function pushChunked(s: Server, repo: string, chunks: string[], digest: string) {
  const t = performance.now();
  let location = await startUpload(s, repo);
  let off = 0;
  for (const chunk of chunks) {
    const len = (await Deno.stat(chunk)).size;
    const res = await curlSend("PATCH", location, chunk, [
      `Content-Range: ${off}-${off + len - 1}`,
    ]);
    if (res.status !== 202) throw new Error(`${s.name}: PATCH gave ${res.status}`);
    location = absolute(s.base, res.location!);
    off += len;
  }
  const res = await curlSend("PUT", withDigest(location, digest), undefined, []);
  if (res.status !== 201) throw new Error(`${s.name}: chunked PUT gave ${res.status}`);
  return (performance.now() - t) / 1000;
}

async function putManifest(s: Server, repo: string, tag: string, body: string) {
  const res = await fetch(`${s.base}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    headers: { "Content-Type": MEDIA_TYPES.ociManifest },
    body,
  });
  await res.body?.cancel();
  if (res.status !== 201) throw new Error(`${s.name}: manifest PUT gave ${res.status}`);
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
}

/** Downloads `url` with `clients` parallel curls; returns GiB/s over the wall time. */
async function blobGet(url: string, clients: number, size: number): Promise<number> {
  const t = performance.now();
  const sizes = await Promise.all(
    Array.from(
      { length: clients },
      () => run("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download}", url]),
    ),
  );
  const seconds = (performance.now() - t) / 1000;
  for (const n of sizes) if (Number(n) !== size) throw new Error(`short download: ${n}`);
  return (clients * size) / seconds / (1 << 30);
}

interface WrkResult {
  rps: number;
  p99ms: number;
  errors: number;
  /** Requests completed (wrk only). */
  requests?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ms(value: string, unit: string): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? 1);
}

/**
 * HEAD load with `ab -k -i` at 32 connections (wrk waits for a body after HEAD and stalls),
 * optionally with an `Accept` header.
 */
async function abHead(url: string, accept?: string, basicAuth?: string): Promise<WrkResult> {
  const extra = accept ? ["-H", `Accept: ${accept}`] : [];
  if (basicAuth) extra.push("-A", basicAuth);
  const out = await run("ab", [
    "-q",
    "-k",
    "-i",
    ...extra,
    "-c",
    "32",
    "-t",
    String(SECONDS),
    "-n",
    "10000000",
    url,
  ]);
  return {
    rps: Number(/Requests per second:\s+([\d.]+)/.exec(out)?.[1]),
    p99ms: Number(/^\s*99%\s+(\d+)/m.exec(out)?.[1]),
    errors: Number(/Failed requests:\s+(\d+)/.exec(out)?.[1] ?? 0) +
      Number(/Non-2xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    requests: Number(/Complete requests:\s+(\d+)/.exec(out)?.[1]),
  };
}

async function wrk(url: string, accept: string, basicAuth?: string): Promise<WrkResult> {
  const auth = basicAuth ? ["-H", `Authorization: Basic ${btoa(basicAuth)}`] : [];
  const out = await run("wrk", [
    "-t2",
    "-c32",
    `-d${SECONDS}s`,
    "--latency",
    "-H",
    `Accept: ${accept}`,
    ...auth,
    url,
  ]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const requests = Number(/(\d+) requests in /.exec(out)?.[1]);
  return { rps, p99ms: p99 ? ms(p99[1], p99[2]) : NaN, errors, requests };
}

/** A config blob and a manifest naming it (and `layers`), as JSON text with the config's digest. */
function smallImage(
  layers: { digest: string; size: number }[] = [],
): { config: string; configDigest: string; manifest: string } {
  const config = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}';
  const configDigest = digestOf(new TextEncoder().encode(config));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: config.length,
    },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l })),
  });
  return { config, configDigest, manifest };
}

/** CPU seconds (user + system) process `pid` has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Thrown to end a `--blob-only` run after the blob GETs. */
const BLOB_ONLY_DONE = Symbol("blob-only done");

/** Context switches (voluntary and not) all threads of process `pid` have made so far. */
function contextSwitches(pid: number): number {
  let n = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/status`);
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) {
        n += Number(m[1]);
      }
    } catch {
      // The thread ended.
    }
  }
  return n;
}

/** The `--observability` run; see the file comment. */
async function observabilityBench(dir: string): Promise<void> {
  const rounds = Number(args.rounds);
  const all: [string, string[]][] = [
    ["metrics off, access log off (before issue 16)", ["--no-access-log", "--debug-address", ""]],
    ["metrics on, access log off", ["--no-access-log"]],
    ["metrics off, access log on", ["--debug-address", ""]],
    ["metrics on, access log on (defaults)", []],
    ["metrics on, access log on, --log-format json", ["--log-format", "json"]],
  ];
  let variants: [string, string[], string?][] = args.variants.split(",").map((i) => all[Number(i)]);
  const other = args["compare-with"];
  if (other) {
    // Each variant after the baseline also from the other checkout's main.ts, beside this one's.
    const main = join(other, "main.ts");
    variants = variants.flatMap(([name, extra], i) =>
      i === 0 ? [[`${name}, this tree`, extra]] : [
        [`${name}, ${other}`, extra, main],
        [`${name}, this tree`, extra],
      ]
    );
  }
  const image = smallImage();
  const configPath = join(dir, "config.json");
  await Deno.writeTextFile(configPath, image.config);
  const servers: Server[] = [];
  try {
    for (const [i, [name, extra, main]] of variants.entries()) {
      const prof = args["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", join(dir, `prof${i}`)] : [];
      const s = await startOurs(join(dir, `v${i}`), extra, name, prof, main);
      servers.push(s);
      await pushMonolithic(s, "bench/app", configPath, image.configDigest);
      await putManifest(s, "bench/app", "v1", image.manifest);
    }
    console.log(
      `registry observability bench: manifest GET, wrk -t2 -c32 -d${SECONDS}s, ${rounds} ` +
        `interleaved rounds of ${servers.length} daemons`,
    );
    const ticks = Number((await run("getconf", ["CLK_TCK"])).trim());
    const results: WrkResult[][] = servers.map(() => []);
    // The daemon's CPU time per request: far steadier than req/s on a shared machine.
    const cpuUs: number[][] = servers.map(() => []);
    for (let r = 0; r < rounds; r++) {
      // Every other round runs the daemons in reverse order, so that being first or last in a
      // round (which alone moved identical daemons by 20-30% here) favours none of them.
      const order = [...servers.entries()];
      if (r % 2 === 1) order.reverse();
      for (const [k, s] of order) {
        const cpu = cpuSeconds(s.child.pid, ticks);
        const res = await wrk(`${s.base}/v2/bench/app/manifests/v1`, MEDIA_TYPES.ociManifest);
        cpuUs[k][r] = (cpuSeconds(s.child.pid, ticks) - cpu) / res.requests! * 1e6;
        results[k][r] = res;
        console.log(
          `  round ${r + 1} ${s.name}: ${res.rps.toFixed(0)} req/s, ` +
            `${cpuUs[k][r].toFixed(1)} us CPU/request`,
        );
      }
    }
    // Let the last access log batch reach the file before counting lines.
    await new Promise((r) => setTimeout(r, 500));
    // Medians, and the best round (highest req/s, least CPU a request): the figure other load
    // on a shared machine disturbs least.
    const base = median(results[0].map((r) => r.rps));
    const baseBest = Math.max(...results[0].map((r) => r.rps));
    const baseCpu = median(cpuUs[0]);
    const baseCpuBest = Math.min(...cpuUs[0]);
    const pct = (x: number, b: number) => `${x >= b ? "+" : ""}${(100 * (x / b - 1)).toFixed(1)}%`;
    console.log("");
    console.log(
      "| daemon | req/s median (vs off) | best (vs off) | per-round req/s ratio (median) " +
        "| CPU us/request median (vs off) | least (vs off) | per-round CPU ratio (median) " +
        "| p99 ms median | stderr lines | requests | errors |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const [k, s] of servers.entries()) {
      const rps = median(results[k].map((r) => r.rps));
      const best = Math.max(...results[k].map((r) => r.rps));
      const cpu = median(cpuUs[k]);
      const least = Math.min(...cpuUs[k]);
      const rpsRatio = median(results[k].map((r, i) => r.rps / results[0][i].rps));
      const cpuRatio = median(cpuUs[k].map((c, i) => c / cpuUs[0][i]));
      console.log(
        `| ${s.name} | ${rps.toFixed(0)} (${pct(rps, base)}) | ${best.toFixed(0)} (${
          pct(best, baseBest)
        }) | ${pct(rpsRatio, 1)} | ${cpu.toFixed(1)} (${pct(cpu, baseCpu)}) | ${
          least.toFixed(1)
        } (${pct(least, baseCpuBest)}) | ${pct(cpuRatio, 1)} | ${
          median(results[k].map((r) => r.p99ms)).toFixed(2)
        } | ${s.stderrLines?.()} | ${results[k].reduce((a, r) => a + r.requests!, 0)} | ${
          results[k].reduce((a, r) => a + r.errors, 0)
        } |`,
      );
    }
  } finally {
    await stopServers(servers);
  }
  if (args["cpu-prof"]) {
    console.log("");
    console.log(
      "| daemon | CPU samples busy | instrument `done` (metrics + record) | access log (timer: " +
        "lines, write start) | ordered writer (background write) |",
    );
    console.log("|---|---|---|---|---|");
    for (const [i, [name]] of variants.entries()) {
      const shares = await profileShares(join(dir, `prof${i}`));
      const pct = (x: number) => `${(100 * x / shares.busy).toFixed(2)}%`;
      console.log(
        `| ${name} | ${shares.busy} | ${pct(shares.done)} | ${pct(shares.accessLog)} | ${
          pct(shares.writer)
        } |`,
      );
    }
  }
}

/** A node of a V8 `.cpuprofile`. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  hitCount?: number;
  children?: number[];
}

/**
 * Samples of the daemon's `--cpu-prof` profile (in `dir`): busy (all but idle), and those spent
 * in (including what they call) the instrument's per-request `done`, the access log's functions
 * and the ordered stderr writer's: shares of the JS thread that other load on the machine
 * disturbs far less than a rate.
 */
async function profileShares(dir: string) {
  const shares = { busy: 0, done: 0, accessLog: 0, writer: 0 };
  for await (const entry of Deno.readDir(dir)) {
    const profile = JSON.parse(await Deno.readTextFile(join(dir, entry.name)));
    const nodes = new Map<number, ProfileNode>();
    for (const n of profile.nodes as ProfileNode[]) nodes.set(n.id, n);
    const total = (n: ProfileNode): number =>
      (n.hitCount ?? 0) + (n.children ?? []).reduce((a, c) => a + total(nodes.get(c)!), 0);
    const walk = (n: ProfileNode) => {
      const { functionName, url } = n.callFrame;
      if (functionName === "(idle)") return;
      shares.busy += n.hitCount ?? 0;
      let part: "done" | "accessLog" | "writer" | undefined;
      if (url.endsWith("/src/registry/instrument.ts") && functionName === "done") part = "done";
      else if (url.endsWith("/src/registry/access_log.ts")) part = "accessLog";
      else if (url.endsWith("/src/log/ordered_writer.ts")) part = "writer";
      if (part) {
        const t = total(n);
        shares[part] += t;
        shares.busy += t - (n.hitCount ?? 0);
        return;
      }
      for (const c of n.children ?? []) walk(nodes.get(c)!);
    };
    walk(profile.nodes[0]);
  }
  return shares;
}

/** Stops every server (SIGTERM) and waits for each to exit. */
async function stopServers(servers: Server[]): Promise<void> {
  for (const s of servers) {
    try {
      s.child.kill("SIGTERM");
    } catch {
      // Gone.
    }
    await s.child.status;
  }
}

/** Starts `bare_registry_server.ts` on `listener` answering `manifest` and the blob's HEAD. */
async function startBare(
  dir: string,
  listener: string,
  manifest: string,
  blob: { digest: string; size: number },
  readHeaders = false,
): Promise<Server> {
  const port = freePort();
  const path = join(dir, `bare-${listener}${readHeaders ? "-headers" : ""}.json`);
  await Deno.writeTextFile(path, manifest);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "-A",
      fileURLToPath(new URL("./bare_registry_server.ts", import.meta.url)),
      "--port",
      String(port),
      "--manifest",
      path,
      "--media-type",
      MEDIA_TYPES.ociManifest,
      "--blob-digest",
      blob.digest,
      "--blob-size",
      String(blob.size),
      "--listener",
      listener,
      ...(readHeaders ? ["--read-headers"] : []),
    ],
    stdout: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  await waitUp(base);
  return {
    name: `bare ${listener === "connections" ? "serveListener" : "Deno.serve"}${
      readHeaders ? " reading the request headers" : ""
    }`,
    base,
    child,
    peakRssKiB: 0,
  };
}

/** The repository the `--hot-reads` run reads. */
const REPO = "bench/app";

/** The `--hot-reads` run; see the file comment. */
async function hotReadsBench(dir: string): Promise<void> {
  const rounds = Number(args.rounds);
  const image = smallImage();
  const manifestDigest = digestOf(new TextEncoder().encode(image.manifest));
  const blob = { digest: image.configDigest, size: image.config.length };
  const servers: Server[] = [];
  try {
    servers.push(await startBare(dir, "deno-serve", image.manifest, blob));
    servers.push(await startBare(dir, "connections", image.manifest, blob));
    servers.push(await startBare(dir, "deno-serve", image.manifest, blob, true));
    const htpasswd = join(dir, "htpasswd");
    await run("htpasswd", ["-bBc", htpasswd, "bench", "bench-password"]);
    const off = ["--no-access-log", "--debug-address", ""];
    for (
      const [name, extra] of [
        ["k0rdentd, access log and metrics off", off],
        ["k0rdentd, defaults (access log and metrics on)", []],
        [
          "k0rdentd, --auth-pulls (htpasswd, cached check), access log and metrics off",
          [...off, "--htpasswd", htpasswd, "--auth-pulls"],
        ],
      ] as [string, string[]][]
    ) {
      // Stored before the daemon starts (an --htpasswd daemon takes no anonymous pushes).
      const storageDir = join(dir, `k${servers.length}`);
      const storage = openDiskStorage(storageDir);
      const config = await storage.putBlob(new TextEncoder().encode(image.config));
      await storage.linkBlob(REPO, config.digest);
      await storage.putManifest(REPO, new TextEncoder().encode(image.manifest), {
        reference: "v1",
        contentType: MEDIA_TYPES.ociManifest,
      });
      const s = await startOurs(storageDir, extra, name);
      if (extra.includes("--auth-pulls")) s.basicAuth = "bench:bench-password";
      servers.push(s);
    }
    const accept = MEDIA_TYPES.ociManifest;
    const loads: [string, (s: Server) => Promise<WrkResult>][] = [
      ["manifest GET by tag", (s) => wrk(`${s.base}/v2/${REPO}/manifests/v1`, accept, s.basicAuth)],
      [
        "manifest GET by digest",
        (s) => wrk(`${s.base}/v2/${REPO}/manifests/${manifestDigest}`, accept, s.basicAuth),
      ],
      [
        "manifest HEAD by tag",
        (s) => abHead(`${s.base}/v2/${REPO}/manifests/v1`, accept, s.basicAuth),
      ],
      [
        "manifest HEAD by digest",
        (s) => abHead(`${s.base}/v2/${REPO}/manifests/${manifestDigest}`, accept, s.basicAuth),
      ],
      [
        "blob HEAD",
        (s) => abHead(`${s.base}/v2/${REPO}/blobs/${blob.digest}`, undefined, s.basicAuth),
      ],
    ];
    console.log(
      `registry hot reads bench: ${rounds} interleaved rounds of ${servers.length} servers, ` +
        `${SECONDS} s each, 32 connections; load average ${
          Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
        }`,
    );
    const ticks = Number((await run("getconf", ["CLK_TCK"])).trim());
    // results[load][server][round]
    const results: WrkResult[][][] = loads.map(() => servers.map(() => []));
    const cpuUs: number[][][] = loads.map(() => servers.map(() => []));
    for (let r = 0; r < rounds; r++) {
      for (const [l, [loadName, load]] of loads.entries()) {
        // Every other round in reverse order (see the observability run).
        const order = [...servers.entries()];
        if (r % 2 === 1) order.reverse();
        for (const [k, s] of order) {
          const cpu = cpuSeconds(s.child.pid, ticks);
          const res = await load(s);
          cpuUs[l][k][r] = (cpuSeconds(s.child.pid, ticks) - cpu) / res.requests! * 1e6;
          results[l][k][r] = res;
          console.log(
            `  round ${r + 1} ${loadName}, ${s.name}: ${res.rps.toFixed(0)} req/s, p99 ` +
              `${res.p99ms} ms, ${cpuUs[l][k][r].toFixed(1)} us CPU/request, ${res.errors} errors`,
          );
        }
      }
    }
    console.log("");
    console.log(`load average at the end: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
    console.log(
      "| read | server | req/s best | req/s median | ratio to bare Deno.serve (per round, median) " +
        "| p99 ms median | CPU us/request least | errors |",
    );
    console.log("|---|---|---|---|---|---|---|---|");
    for (const [l, [loadName]] of loads.entries()) {
      for (const [k, s] of servers.entries()) {
        const rs = results[l][k];
        const ratio = median(rs.map((x, i) => x.rps / results[l][0][i].rps));
        console.log(
          `| ${loadName} | ${s.name} | ${Math.max(...rs.map((x) => x.rps)).toFixed(0)} | ${
            median(rs.map((x) => x.rps)).toFixed(0)
          } | ${ratio.toFixed(2)}x | ${median(rs.map((x) => x.p99ms)).toFixed(2)} | ${
            Math.min(...cpuUs[l][k]).toFixed(1)
          } | ${rs.reduce((a, x) => a + x.errors, 0)} |`,
        );
      }
    }
  } finally {
    await stopServers(servers);
  }
}

if (args["hot-reads"]) {
  const dir = await Deno.makeTempDir({ prefix: "registry-bench-" });
  try {
    await hotReadsBench(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  Deno.exit(0);
}

if (args.observability) {
  const dir = await Deno.makeTempDir({ prefix: "registry-bench-" });
  try {
    await observabilityBench(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "registry-bench-" });
const servers: Server[] = [];
/** The bare streaming server of the blob rounds (not in `servers`: it answers only reads). */
let bare: Server | undefined;
let timer: ReturnType<typeof setInterval> | undefined;
try {
  console.log(
    `registry bench: blob ${BLOB / MIB} MiB, push ${PUSH / MIB} MiB (chunks ${
      CHUNK / MIB
    } MiB), wrk -t2 -c32 -d${SECONDS}s`,
  );
  const blobPath = join(dir, "blob.bin");
  const pushPath = join(dir, "push.bin");
  const blobDigest = await randomFile(blobPath, BLOB);
  const pushDigest = await randomFile(pushPath, PUSH);
  const image = smallImage([{ digest: blobDigest, size: BLOB }]);
  const configPath = join(dir, "config.json");
  await Deno.writeTextFile(configPath, image.config);
  const chunkDir = join(dir, "chunks");
  await Deno.mkdir(chunkDir);
  await run("split", ["-b", String(CHUNK), "-d", "-a", "4", pushPath, join(chunkDir, "c")]);
  const chunks = (await Array.fromAsync(Deno.readDir(chunkDir))).map((e) => join(chunkDir, e.name))
    .sort();

  servers.push(await startOurs(join(dir, "ours")), await startDistribution(join(dir, "theirs")));
  timer = sampleRss(servers);
  for (const s of servers) {
    await pushMonolithic(s, "bench/app", configPath, image.configDigest);
    await pushMonolithic(s, "bench/app", blobPath, blobDigest);
    await putManifest(s, "bench/app", "v1", image.manifest);
  }

  const ratio = (a: number, b: number, higherBetter: boolean) => higherBetter ? a / b : b / a;
  const table: { metric: string; ours: string; theirs: string; ratio: string }[] = [];
  const add = (metric: string, values: number[], fmt: (x: number) => string, higher = true) => {
    table.push({
      metric,
      ours: fmt(values[0]),
      theirs: fmt(values[1]),
      ratio: `${ratio(values[0], values[1], higher).toFixed(2)}x`,
    });
    console.log(
      `  ${metric}: k0rdentd ${fmt(values[0])}, docker-registry ${fmt(values[1])} ` +
        `(peak RSS so far ${(servers[0].peakRssKiB / 1024).toFixed(0)} / ${
          (servers[1].peakRssKiB / 1024).toFixed(0)
        } MiB)`,
    );
  };

  const gib = (x: number) => `${x.toFixed(2)} GiB/s`;
  const blobDetails: string[] = [];
  const ticks = Number((await run("getconf", ["CLK_TCK"])).trim());
  const cpuMs = (pid: number) => cpuSeconds(pid, ticks) * 1000;
  // The runtime's ceiling for a streamed body: bare `Deno.serve` streaming the blob's size from
  // memory in 512 KiB chunks, no file read (bare_registry_server.ts), in the same rounds.
  bare = await startBare(dir, "deno-serve", image.manifest, {
    digest: blobDigest,
    size: BLOB,
  });
  const blobServers = [servers[0], servers[1], bare];
  for (const clients of [1, 8]) {
    const runs: number[][] = blobServers.map(() => []);
    const cpu: number[][] = blobServers.map(() => []);
    const switches: number[][] = blobServers.map(() => []);
    for (const s of servers) s.peakRssKiB = 0;
    for (let i = 0; i < Number(args["blob-rounds"]); i++) {
      // Rotated, every other round reversed: no server is always first or last.
      const order = [0, 1, 2].map((k) => (k + i) % 3);
      if (i % 2 === 1) order.reverse();
      for (const k of order) {
        const s = blobServers[k];
        const before = cpuMs(s.child.pid);
        const switchesBefore = contextSwitches(s.child.pid);
        runs[k].push(await blobGet(`${s.base}/v2/bench/app/blobs/${blobDigest}`, clients, BLOB));
        cpu[k].push((cpuMs(s.child.pid) - before) / clients);
        switches[k].push((contextSwitches(s.child.pid) - switchesBefore) / clients);
      }
    }
    const v = runs.map(median);
    add(`blob GET ${BLOB / MIB} MiB, ${clients} client(s)`, v, gib);
    const perRound = (k: number) => median(runs[k].map((x, i) => x / runs[1][i])).toFixed(2);
    blobDetails.push(
      `| ${clients} | ${perRound(0)}x | ${perRound(2)}x | ` +
        `${runs.map((r) => r.map((x) => x.toFixed(2)).join(" ")).join(" / ")} | ${
          cpu.map((c) => median(c).toFixed(0)).join(" / ")
        } | ${switches.map((c) => median(c).toFixed(0)).join(" / ")} | ${
          (servers[0].peakRssKiB / 1024).toFixed(0)
        } / ${(servers[1].peakRssKiB / 1024).toFixed(0)} MiB |`,
    );
  }
  console.log("");
  console.log(
    "| clients | k0rdentd / docker-registry, per-round ratio (median) | bare Deno.serve from " +
      "memory / docker-registry | GiB/s by round: k0rdentd / docker-registry / bare | CPU ms a " +
      "download (median), same order | context switches a download (median), same order | peak " +
      "RSS k0rdentd / docker-registry |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const line of blobDetails) console.log(line);
  console.log(`load average: ${Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3)}`);
  // `--blob-only` ends here, through the `finally` below, which stops both servers and removes
  // the temp dir (a `Deno.exit` here left them running, with GiBs of files).
  if (args["blob-only"]) throw BLOB_ONLY_DONE;
  const manifestResults: WrkResult[] = [];
  for (const s of servers) {
    manifestResults.push(
      await wrk(`${s.base}/v2/bench/app/manifests/v1`, MEDIA_TYPES.ociManifest),
    );
  }
  add(
    "manifest GET by tag (wrk -c32)",
    manifestResults.map((r) => r.rps),
    (x) => `${x.toFixed(0)} req/s`,
  );
  add("manifest GET p99", manifestResults.map((r) => r.p99ms), (x) => `${x.toFixed(2)} ms`, false);
  const headResults: WrkResult[] = [];
  for (const s of servers) {
    headResults.push(await abHead(`${s.base}/v2/bench/app/blobs/${blobDigest}`));
  }
  add("blob HEAD (ab -k -c32)", headResults.map((r) => r.rps), (x) => `${x.toFixed(0)} req/s`);
  add("blob HEAD p99", headResults.map((r) => r.p99ms), (x) => `${x.toFixed(2)} ms`, false);
  const pushes: [string, (s: Server, i: number) => Promise<number>][] = [
    ["monolithic", (s, i) => pushMonolithic(s, `bench/mono${i}`, pushPath, pushDigest)],
    ["chunked", (s, i) => pushChunked(s, `bench/chunked${i}`, chunks, pushDigest)],
  ];
  for (const [mode, push] of pushes) {
    const runs: number[][] = [[], []];
    for (let i = 0; i < 3; i++) {
      for (const [k, s] of servers.entries()) runs[k].push(PUSH / MIB / await push(s, i));
    }
    add(`push ${PUSH / MIB} MiB ${mode}`, runs.map(median), (x) => `${x.toFixed(0)} MiB/s`);
  }
  const errors = [...manifestResults, ...headResults].map((r) => r.errors);
  console.log("");
  console.log("| metric | k0rdentd | docker-registry | ratio |");
  console.log("|---|---|---|---|");
  for (const r of table) console.log(`| ${r.metric} | ${r.ours} | ${r.theirs} | ${r.ratio} |`);
  console.log(
    `| errors (non-2xx + socket) | ${errors[0] + errors[2]} | ${errors[1] + errors[3]} | |`,
  );
  console.log(
    `| peak server RSS | ${(servers[0].peakRssKiB / 1024).toFixed(0)} MiB | ${
      (servers[1].peakRssKiB / 1024).toFixed(0)
    } MiB | |`,
  );
} catch (err) {
  if (err !== BLOB_ONLY_DONE) throw err;
} finally {
  clearInterval(timer);
  await stopServers(bare ? [...servers, bare] : servers);
  await Deno.remove(dir, { recursive: true });
}

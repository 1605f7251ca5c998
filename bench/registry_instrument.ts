/**
 * What the request metrics and the access log add to one manifest GET, in-process and without
 * sockets, so that other load on a shared machine moves both sides alike: the registry app's
 * handler on a disk storage holding one small image, called directly (as the daemon's listener
 * calls it) plain and through `instrument()` with metrics, access log (text or JSON, written in
 * batches to a file as journald would store them) or both. Blocks of `--requests` calls alternate
 * between the variants for `--rounds` rounds; the median microseconds per request is reported.
 * Then the parts alone, the same way (blocks of 100,000 calls): `HttpMetrics.observe`, the route
 * classification, and per access line (text, JSON) apart: `AccessLog.record`, what a request
 * pays, and the batch's work (building the lines of a full batch and starting their write).
 *
 *   npx deno run -A bench/registry_instrument.ts [--requests 20000] [--rounds 9]
 */
import { join } from "node:path";
import process from "node:process";
import { Logger } from "../src/log/logger.ts";
import { OrderedWriter } from "../src/log/ordered_writer.ts";
import { AccessLog, BATCH } from "../src/registry/access_log.ts";
import { HttpMetrics, registryRoute, repositoryOf } from "../src/registry/debug/http_metrics.ts";
import { Hasher } from "../src/registry/digest.ts";
import { createRegistryApp } from "../src/registry/http/app.ts";
import { instrument } from "../src/registry/instrument.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";
import { benchArgs } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  requests: { type: "string", default: "20000" },
  rounds: { type: "string", default: "9" },
});
const REQUESTS = Number(args.requests);
const ROUNDS = Number(args.rounds);

const dir = await Deno.makeTempDir({ prefix: "registry-instrument-" });
try {
  const storage = openDiskStorage(join(dir, "storage"));
  const config = new TextEncoder().encode('{"architecture":"amd64","os":"linux"}');
  const hasher = new Hasher();
  hasher.update(config);
  const configDigest = hasher.digest();
  await storage.putBlob(config, { digest: configDigest });
  await storage.linkBlob("bench/app", configDigest);
  await storage.putManifest(
    "bench/app",
    new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: [],
    })),
    { reference: "v1", contentType: MEDIA_TYPES.ociManifest },
  );
  const app = createRegistryApp({ storage });
  const plain: Deno.ServeHandler<Deno.NetAddr> = (req, info) => app.fetch(req, info);
  /** The last background write of the loggers below. */
  let lastWrite = Promise.resolve();
  const logger = (format: "text" | "json") => {
    const file = Deno.openSync(join(dir, `access-${format}.log`), {
      write: true,
      create: true,
      append: true,
    });
    const encoder = new TextEncoder();
    // As the daemon's stderr sink: log lines at once, access log batches in the background.
    const stream = new OrderedWriter(file);
    const l = new Logger();
    l.configure({
      format,
      sink: {
        write: (line) => stream.writeSync(encoder.encode(line + "\n")),
        writeLater: (text) => lastWrite = stream.write(text),
        isTerminal: () => false,
      },
    });
    return l;
  };
  const variants: [string, Deno.ServeHandler<Deno.NetAddr>][] = [
    ["plain handler (metrics and access log off)", plain],
    // A control: what wrapping the handler in an async function alone does.
    ["plain handler in an async wrapper", async (req, info) => await plain(req, info)],
    ["metrics", instrument(plain, registryRoute, { metrics: new HttpMetrics() })],
    [
      "access log (text)",
      instrument(plain, registryRoute, { accessLog: new AccessLog(logger("text")) }),
    ],
    [
      "metrics + access log (text, the defaults)",
      instrument(plain, registryRoute, {
        metrics: new HttpMetrics(),
        accessLog: new AccessLog(logger("text")),
      }),
    ],
    [
      "metrics + access log (JSON)",
      instrument(plain, registryRoute, {
        metrics: new HttpMetrics(),
        accessLog: new AccessLog(logger("json")),
      }),
    ],
  ];
  const url = "http://127.0.0.1:5000/v2/bench/app/manifests/v1";
  const info = {
    remoteAddr: { hostname: "127.0.0.1", port: 40000, transport: "tcp" as const },
    completed: Promise.resolve(),
  } as Deno.ServeHandlerInfo<Deno.NetAddr>;
  /** Wall and process CPU (user + system, all threads) microseconds a request of one block. */
  const block = async (handler: Deno.ServeHandler<Deno.NetAddr>) => {
    const cpu = process.cpuUsage();
    const t = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const res = await handler(
        new Request(url, { headers: { Accept: MEDIA_TYPES.ociManifest } }),
        info,
      );
      if (res.status !== 200) throw new Error(`GET gave ${res.status}`);
      await res.arrayBuffer();
    }
    const wall = (performance.now() - t) * 1000 / REQUESTS;
    const used = process.cpuUsage(cpu);
    return [wall, (used.user + used.system) / REQUESTS];
  };
  for (const [, handler] of variants) await block(handler); // warm up
  const us: number[][] = variants.map(() => []);
  const cpuUs: number[][] = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    // Every other round in reverse order: running first or last in a round favours none.
    const order = [...variants.entries()];
    if (r % 2) order.reverse();
    for (const [k, [, handler]] of order) {
      const [wall, cpu] = await block(handler);
      us[k][r] = wall;
      cpuUs[k][r] = cpu;
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;
  console.log(
    `registry instrument bench: ${ROUNDS} rounds of ${REQUESTS} manifest GETs per variant ` +
      `(load average ${Deno.loadavg().map((x) => x.toFixed(2)).join(", ")} at the end)`,
  );
  console.log("");
  console.log(
    "| handler | us/request (median) | per-round ratio to plain (median) " +
      "| CPU us/request (median) | per-round CPU ratio (median) |",
  );
  console.log("|---|---|---|---|---|");
  for (const [k, [name]] of variants.entries()) {
    const ratio = median(us[k].map((x, r) => x / us[0][r] - 1));
    const cpuRatio = median(cpuUs[k].map((x, r) => x / cpuUs[0][r] - 1));
    console.log(
      `| ${name} | ${median(us[k]).toFixed(2)} | ${pct(ratio)} | ${median(cpuUs[k]).toFixed(2)} | ${
        pct(cpuRatio)
      } |`,
    );
  }
  const metrics = new HttpMetrics();
  const parts: [string, () => void][] = [
    ["HttpMetrics.observe", () => metrics.observe(3, "GET", 200, 0.000123, 0, 400)],
    ["registryRoute + repositoryOf", () => repositoryOf(url, registryRoute(url))],
  ];
  const partUs: number[][] = parts.map(() => []);
  // The access log apart: `record` (what a request pays) and the batch's work (building its
  // lines and starting their write, done by the entry that fills a batch), per line.
  const logs = [new AccessLog(logger("text")), new AccessLog(logger("json"))];
  const recordUs: number[][] = logs.map(() => []);
  const flushUs: number[][] = logs.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [, fn]] of parts.entries()) {
      const t = performance.now();
      for (let i = 0; i < 100_000; i++) fn();
      partUs[k].push((performance.now() - t) * 1000 / 100_000);
    }
    for (const [k, access] of logs.entries()) {
      let recording = 0;
      let flushing = 0;
      for (let b = 0; b < 100_000 / BATCH; b++) {
        const t0 = performance.now();
        for (let i = 0; i < BATCH - 1; i++) {
          access.record("127.0.0.1", undefined, "GET", 3, url, 200, 400, t0, 0.123456);
        }
        const t1 = performance.now();
        // The batch's last entry: the lines are built and their write started.
        access.record("127.0.0.1", undefined, "GET", 3, url, 200, 400, t0, 0.123456);
        flushing += performance.now() - t1;
        recording += t1 - t0;
        await lastWrite; // the write's end (in the background), outside the timings
      }
      const batches = Math.floor(100_000 / BATCH);
      recordUs[k].push(recording * 1000 / (batches * (BATCH - 1)));
      flushUs[k].push(flushing * 1000 / (batches * BATCH));
    }
  }
  for (const access of logs) await access.close();
  console.log("");
  console.log("| part | us/call (median) |");
  console.log("|---|---|");
  for (const [k, [name]] of parts.entries()) {
    console.log(`| ${name} | ${median(partUs[k]).toFixed(3)} |`);
  }
  for (const [k, name] of ["text", "JSON"].entries()) {
    console.log(`| AccessLog.record, ${name} (request path) | ${median(recordUs[k]).toFixed(3)} |`);
    console.log(
      `| AccessLog batch, ${name}, per line (build the lines + start the write) | ${
        median(flushUs[k]).toFixed(3)
      } |`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

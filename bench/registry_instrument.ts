/**
 * What the request metrics and the access log add to one manifest GET, in-process and without
 * sockets, so that other load on a shared machine moves both sides alike: the registry app's
 * handler on a disk storage holding one small image, called directly (as the daemon's listener
 * calls it) plain and through `instrument()` with metrics, access log (text or JSON, written in
 * batches to a file as journald would store them) or both. Blocks of `--requests` calls alternate
 * between the variants for `--rounds` rounds; the median microseconds per request is reported.
 * Then the parts alone, the same way (blocks of 100,000 calls): `HttpMetrics.observe`,
 * `AccessLog.record` (text, JSON; flushes included) and the route classification.
 *
 *   npx deno run -A bench/registry_instrument.ts [--requests 20000] [--rounds 9]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Logger } from "../src/log/logger.ts";
import { writeAllSync } from "../src/log/write_all.ts";
import { AccessLog } from "../src/registry/access_log.ts";
import { HttpMetrics, registryRoute, repositoryOf } from "../src/registry/debug/http_metrics.ts";
import { Hasher } from "../src/registry/digest.ts";
import { createRegistryApp } from "../src/registry/http/app.ts";
import { instrument } from "../src/registry/instrument.ts";
import { MEDIA_TYPES } from "../src/registry/manifest.ts";
import { openDiskStorage } from "../src/registry/storage/storage.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "20000" },
    rounds: { type: "string", default: "9" },
  },
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
  const logger = (format: "text" | "json") => {
    const file = Deno.openSync(join(dir, `access-${format}.log`), {
      write: true,
      create: true,
      append: true,
    });
    const encoder = new TextEncoder();
    const l = new Logger();
    l.configure({
      format,
      sink: {
        write: (line) => writeAllSync(file, encoder.encode(line + "\n")),
        isTerminal: () => false,
      },
    });
    return l;
  };
  const variants: [string, Deno.ServeHandler<Deno.NetAddr>][] = [
    ["plain handler (metrics and access log off)", plain],
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
  const block = async (handler: Deno.ServeHandler<Deno.NetAddr>) => {
    const t = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const res = await handler(
        new Request(url, { headers: { Accept: MEDIA_TYPES.ociManifest } }),
        info,
      );
      if (res.status !== 200) throw new Error(`GET gave ${res.status}`);
      await res.arrayBuffer();
    }
    return (performance.now() - t) * 1000 / REQUESTS;
  };
  for (const [, handler] of variants) await block(handler); // warm up
  const us: number[][] = variants.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [, handler]] of variants.entries()) us[k].push(await block(handler));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(us[0]);
  console.log(
    `registry instrument bench: ${ROUNDS} rounds of ${REQUESTS} manifest GETs per variant`,
  );
  console.log("");
  console.log("| handler | us/request (median) | added us | added % |");
  console.log("|---|---|---|---|");
  for (const [k, [name]] of variants.entries()) {
    const m = median(us[k]);
    console.log(
      `| ${name} | ${m.toFixed(2)} | ${(m - base).toFixed(2)} | ${
        (100 * (m / base - 1)).toFixed(1)
      }% |`,
    );
  }
  const metrics = new HttpMetrics();
  const text = new AccessLog(logger("text"));
  const json = new AccessLog(logger("json"));
  const entry = {
    client: "127.0.0.1",
    method: "GET",
    route: 3,
    repository: "bench/app",
    status: 200,
    bytes: 400,
    durationMs: 0.123456,
    url,
  };
  const parts: [string, () => void][] = [
    ["HttpMetrics.observe", () => metrics.observe(3, "GET", 200, 0.000123, 0, 400)],
    ["registryRoute + repositoryOf", () => repositoryOf(url, registryRoute(url))],
    ["AccessLog.record, text", () => text.record(entry)],
    ["AccessLog.record, JSON", () => json.record(entry)],
  ];
  const partUs: number[][] = parts.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [k, [, fn]] of parts.entries()) {
      const t = performance.now();
      for (let i = 0; i < 100_000; i++) fn();
      partUs[k].push((performance.now() - t) * 1000 / 100_000);
    }
  }
  text.close();
  json.close();
  console.log("");
  console.log("| part | us/call (median) |");
  console.log("|---|---|");
  for (const [k, [name]] of parts.entries()) {
    console.log(`| ${name} | ${median(partUs[k]).toFixed(3)} |`);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

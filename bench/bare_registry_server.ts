/**
 * The runtime's ceiling for registry reads (`registry_bench.ts --hot-reads`): answers
 * `GET|HEAD .../manifests/<any>` with one manifest's bytes and blob `HEAD .../blobs/<any>` with
 * one blob's headers, the same headers k0rdentd sends, and nothing else: no storage, no checks.
 * `--listener deno-serve` runs it on `Deno.serve`; `--listener connections` on the daemon's own
 * listener code (`serveListener` in src/registry/connections.ts), to tell the listener's cost
 * from the handler's. Without `--read-headers` it reads nothing of the request but its method
 * and URL; with it, it also reads the request headers a registry has to read for these answers
 * (`Accept` and `If-None-Match` of a manifest read, `If-None-Match` and `Range` of a blob HEAD),
 * as k0rdentd does: in Deno 2.9 the first look at `req.headers` makes the runtime copy all the
 * request's headers when it answers and finish the answer through a promise (`ext/http/00_serve.ts`,
 * `requestHeadersExposed` and `cacheRequestHeaders` in `ext/fetch/23_request.js`).
 *
 * A blob GET streams `--blob-size` bytes as 512 KiB views of one 8 MiB buffer in memory (no file
 * read at all; k0rdentd streams a blob in 512 KiB chunks too): the runtime's ceiling for a
 * streamed response body (`registry_bench.ts`, blob GET rounds).
 *
 *   npx deno run -A bench/bare_registry_server.ts --port 5099 --manifest FILE --media-type T \
 *     --blob-digest sha256:... --blob-size N [--listener deno-serve|connections] [--read-headers]
 */
import { ConnectionGate, serveListener } from "../src/registry/connections.ts";
import { Hasher } from "../src/registry/digest.ts";
import { benchArgs, usageError } from "./bench_args.ts";

const args = benchArgs(import.meta.url, {
  port: { type: "string" },
  manifest: { type: "string" },
  "media-type": { type: "string" },
  "blob-digest": { type: "string" },
  "blob-size": { type: "string" },
  listener: { type: "string", default: "deno-serve" },
  "read-headers": { type: "boolean", default: false },
});
for (const name of ["port", "manifest", "media-type", "blob-digest", "blob-size"] as const) {
  if (args[name] === undefined) usageError(import.meta.url, `--${name} is required`);
}
if (!/^\d+$/.test(args["blob-size"]!)) {
  usageError(import.meta.url, `--blob-size "${args["blob-size"]}" is no byte count`);
}
const bytes = Deno.readFileSync(args.manifest!);
const hasher = new Hasher();
hasher.update(bytes);
const digest = hasher.digest();
const blobDigest = args["blob-digest"]!;
const readHeaders = args["read-headers"];
const manifestTag = `"${digest}"`;
const STREAM_CHUNK = 512 * 1024;
const streamSource = new Uint8Array(8 * 1024 * 1024).fill(0x5a);

/** `size` bytes as 512 KiB views of `streamSource`, one read ahead, like k0rdentd's blob stream. */
function memoryStream(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const offset = sent % streamSource.length;
      const n = Math.min(STREAM_CHUNK, size - sent);
      controller.enqueue(streamSource.subarray(offset, offset + n));
      sent += n;
      if (sent >= size) controller.close();
    },
  }, { highWaterMark: 1 });
}
const blobTag = `"${blobDigest}"`;

function handler(req: Request): Response {
  const url = req.url;
  if (url.includes("/manifests/")) {
    const headers = {
      "Docker-Distribution-API-Version": "registry/2.0",
      "Content-Type": args["media-type"]!,
      "Content-Length": String(bytes.length),
      "Docker-Content-Digest": digest,
      "ETag": `"${digest}"`,
    };
    if (readHeaders) {
      // What k0rdentd reads; the bench's Accept is the stored type and it sends no If-None-Match.
      const accept = req.headers.get("accept");
      if (accept !== null && accept !== args["media-type"]) {
        return new Response(null, { status: 404 });
      }
      if (req.headers.get("if-none-match") === manifestTag) {
        return new Response(null, { status: 304, headers });
      }
    }
    return new Response(req.method === "HEAD" ? null : bytes, { status: 200, headers });
  }
  if (url.includes("/blobs/") && req.method === "GET") {
    return new Response(memoryStream(Number(args["blob-size"])), {
      status: 200,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": args["blob-size"]!,
      },
    });
  }
  if (url.includes("/blobs/") && req.method === "HEAD") {
    if (readHeaders && (req.headers.get("if-none-match") === blobTag || req.headers.get("range"))) {
      return new Response(null, { status: 400 }); // Not what the bench sends.
    }
    return new Response(null, {
      status: 200,
      headers: {
        "Docker-Distribution-API-Version": "registry/2.0",
        "Docker-Content-Digest": blobDigest,
        "ETag": `"${blobDigest}"`,
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Cache-Control": "max-age=31536000",
        "Content-Length": args["blob-size"]!,
      },
    });
  }
  return new Response("{}", { status: url.endsWith("/v2/") ? 200 : 404 });
}

const port = Number(args.port);
if (args.listener === "connections") {
  serveListener(Deno.listen({ hostname: "127.0.0.1", port }), handler, {
    gate: new ConnectionGate(1024, "bench"),
    headerTimeoutMs: 30_000,
    idleTimeoutMs: 60_000,
    onError: () => new Response("internal error", { status: 500 }),
  });
} else {
  Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
}

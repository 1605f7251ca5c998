/**
 * The runtime's ceiling for registry reads (`registry_bench.ts --hot-reads`): answers
 * `GET|HEAD .../manifests/<any>` with one manifest's bytes and blob `HEAD .../blobs/<any>` with
 * one blob's headers, the same headers k0rdentd sends, and nothing else: no storage, no checks.
 * `--listener deno-serve` runs it on `Deno.serve`; `--listener connections` on the daemon's own
 * listener code (`serveListener` in src/registry/connections.ts), to tell the listener's cost
 * from the handler's.
 *
 *   npx deno run -A bench/bare_registry_server.ts --port 5099 --manifest FILE --media-type T \
 *     --blob-digest sha256:... --blob-size N [--listener deno-serve|connections]
 */
import { parseArgs } from "node:util";
import { ConnectionGate, serveListener } from "../src/registry/connections.ts";
import { Hasher } from "../src/registry/digest.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string" },
    manifest: { type: "string" },
    "media-type": { type: "string" },
    "blob-digest": { type: "string" },
    "blob-size": { type: "string" },
    listener: { type: "string", default: "deno-serve" },
  },
});
const bytes = Deno.readFileSync(args.manifest!);
const hasher = new Hasher();
hasher.update(bytes);
const digest = hasher.digest();
const blobDigest = args["blob-digest"]!;

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
    return new Response(req.method === "HEAD" ? null : bytes, { status: 200, headers });
  }
  if (url.includes("/blobs/") && req.method === "HEAD") {
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

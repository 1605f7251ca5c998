/** A hand-written source registry for replication tests: honest, lying and forging repositories. */
import { digestOf } from "../../src/registry/digest.ts";
import { MEDIA_TYPES } from "../../src/registry/manifest.ts";

const enc = new TextEncoder();

/** An image manifest over `config` and `layer` (bytes), with the blobs by digest. */
function image(config: Uint8Array, layer: Uint8Array) {
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: digestOf(config),
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: digestOf(layer),
      size: layer.length,
    }],
  }));
  return { manifest, blobs: new Map([[digestOf(config), config], [digestOf(layer), layer]]) };
}

/**
 * A tiny registry written by hand, listing in pages of one entry linked by `Link` headers:
 * "honest" serves its image as it is; "liar" serves other bytes (same size) for its layer;
 * "forger" claims a `Docker-Content-Digest` its manifest does not have; "padder" sends its layer
 * with 1 MiB more than declared (and answers no `Range`).
 */
export function fakeSource() {
  const config = enc.encode('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}');
  const honest = image(config, crypto.getRandomValues(new Uint8Array(4096)));
  const liar = image(config, crypto.getRandomValues(new Uint8Array(4096)));
  const forged = crypto.getRandomValues(new Uint8Array(4096));
  const forger = image(config, crypto.getRandomValues(new Uint8Array(4096)));
  const padder = image(config, crypto.getRandomValues(new Uint8Array(4096)));
  const images: Record<string, ReturnType<typeof image>> = { honest, liar, forger, padder };
  const repos = Object.keys(images);
  const tags = ["a", "b"];
  const page = (items: string[], last: string | null, base: string) => {
    const i = last === null ? 0 : items.indexOf(last) + 1;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (i + 1 < items.length) headers.link = `<${base}?n=1&last=${items[i]}>; rel="next"`;
    return { items: items.slice(i, i + 1), headers };
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    const last = url.searchParams.get("last");
    if (url.pathname === "/v2/_catalog") {
      const p = page(repos, last, "/v2/_catalog");
      return Response.json({ repositories: p.items }, { headers: p.headers });
    }
    const m = /^\/v2\/(\w+)\/(tags\/list|manifests\/[^/]+|blobs\/(.+))$/.exec(url.pathname);
    const img = m && images[m[1]];
    if (!m || !img) return new Response("not found", { status: 404 });
    const [, repo, what, blobDigest] = m;
    if (what === "tags/list") {
      const p = page(tags, last, `/v2/${repo}/tags/list`);
      return Response.json({ name: repo, tags: p.items }, { headers: p.headers });
    }
    if (what.startsWith("manifests/")) {
      const claimed = repo === "forger" ? digestOf(honest.manifest) : digestOf(img.manifest);
      return new Response(req.method === "HEAD" ? null : img.manifest, {
        headers: { "content-type": MEDIA_TYPES.ociManifest, "docker-content-digest": claimed },
      });
    }
    const body = img.blobs.get(blobDigest);
    if (!body) return new Response("unknown", { status: 404 });
    const layer = body.length === 4096;
    const sent = repo === "liar" && layer
      ? forged
      : repo === "padder" && layer
      ? new Uint8Array([...body, ...new Uint8Array(1 << 20)])
      : body;
    return new Response(sent as Uint8Array<ArrayBuffer>);
  });
  return { server, address: `127.0.0.1:${server.addr.port}`, liar, forger, padder };
}

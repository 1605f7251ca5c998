/**
 * The hot read routes, `GET|HEAD /v2/<name>/manifests/<reference>` and
 * `GET|HEAD /v2/<name>/blobs/<digest>`, matched by plain string work and answered by the same
 * handlers as the Hono routes, before Hono's router and middleware run. Anything else (other
 * methods, percent-encoded paths, other routes) is left to Hono; with `--auth-pulls`, `app.ts`
 * sends reads here only when their credentials were verified lately. A read that the storage's
 * index and caches answer gets its Response without a promise. A HEAD that fails is answered
 * without a body (`head.ts`), as Hono answers the HEADs it routes.
 *
 * Measured with wrk at 32 connections on one small manifest: 15.2k req/s through Hono and
 * 23.8-25.2k req/s through this path; see docs/benchmarks.md (Registry, and Registry hot reads
 * against the bare runtime).
 */
import type { RegistryStorage } from "../storage/storage.ts";
import { readBlob } from "./blobs.ts";
import { headless } from "./head.ts";
import { readManifest } from "./manifests.ts";

/** Where a path splits into `/v2/<name>/<kind>/<ref>`, or undefined when it does not. */
function splitReadPath(url: string): { kind: string; name: string; ref: string } | undefined {
  const start = url.indexOf("/", url.indexOf(":") + 3);
  if (start < 0 || !url.startsWith("/v2/", start)) return undefined;
  let end = url.length;
  for (let i = start; i < url.length; i++) {
    const ch = url.charCodeAt(i);
    if (ch === 37) return undefined; // "%": Hono decodes; let it.
    if (ch === 63 || ch === 35) { // "?" or "#"
      end = i;
      break;
    }
  }
  const refStart = url.lastIndexOf("/", end - 1) + 1;
  const kindStart = url.lastIndexOf("/", refStart - 2) + 1;
  const nameStart = start + 4;
  if (refStart >= end || kindStart - 1 <= nameStart) return undefined;
  return {
    kind: url.slice(kindStart, refStart - 1),
    name: url.slice(nameStart, kindStart - 1),
    ref: url.slice(refStart, end),
  };
}

/**
 * The response to `req` when it is a manifest or blob read, else undefined (the caller routes
 * it). Failures go through `onError`, like Hono's error handler.
 */
export function hotRead(
  req: Request,
  storage: RegistryStorage,
  onError: (err: unknown) => Response,
): Response | Promise<Response> | undefined {
  if (req.method !== "GET" && req.method !== "HEAD") return undefined;
  const parts = splitReadPath(req.url);
  if (!parts) return undefined;
  let handler: typeof readBlob;
  if (parts.kind === "manifests") handler = readManifest;
  else if (parts.kind === "blobs" && parts.ref.includes(":")) handler = readBlob;
  else return undefined;
  try {
    const res = handler(storage, req, parts.name, parts.ref);
    return res instanceof Response ? res : res.catch((err) => failed(req, err, onError));
  } catch (err) {
    return failed(req, err, onError);
  }
}

/** The answer to `req` failing with `err`: a HEAD's without a body. */
function failed(req: Request, err: unknown, onError: (err: unknown) => Response): Response {
  return req.method === "HEAD" ? headless(onError(err)) : onError(err);
}

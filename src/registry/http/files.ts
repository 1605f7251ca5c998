/**
 * The files listener (`--files-port`): `GET`/`HEAD /<prefix>/<name>` for the stored k0s
 * binaries and their `.sig`, read-only, plain HTTP, streamed from disk with single `Range`
 * support, and `/<prefix>/SHA256SUMS` listing them with their SHA-256 (for replicas). Anything
 * else is 404 (unknown path) or 405 (another method).
 */
import { K0S_SUMS_FILE, k0sFilesPath } from "../k0s_files.ts";
import { isK0sFileName } from "../names.ts";
import type { K0sBinaryStore } from "../storage/k0s_binaries.ts";
import { headless } from "./head.ts";
import { rangedResponse } from "./range.ts";

/** What the files handler serves. */
export interface FilesDeps {
  store: K0sBinaryStore;
  /** Repository prefix, also the URL path the files are under (may be ""). */
  prefix: string;
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", ...headers },
  });
}

/** The stored file name `pathname` asks for, or undefined when it names nothing servable. */
export function requestedFile(pathname: string, prefix: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  const at = path.lastIndexOf("/");
  const name = path.slice(at + 1);
  if (path.slice(0, at) !== k0sFilesPath(prefix) || !isK0sFileName(name)) return undefined;
  return name;
}

/** The request handler of the files listener (a HEAD's answer has no body, failures included). */
export function createFilesHandler(deps: FilesDeps): (req: Request) => Promise<Response> {
  const answer = filesAnswer(deps);
  return async (req) => req.method === "HEAD" ? headless(await answer(req)) : await answer(req);
}

function filesAnswer(deps: FilesDeps): (req: Request) => Promise<Response> {
  return async (req) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return plain(405, "method not allowed", { Allow: "GET, HEAD" });
    }
    const pathname = new URL(req.url).pathname;
    if (pathname === `${k0sFilesPath(deps.prefix)}/${K0S_SUMS_FILE}`) {
      const sums = new TextEncoder().encode(await deps.store.sha256Sums());
      return new Response(req.method === "HEAD" ? null : sums, {
        headers: {
          "Content-Type": "text/plain; charset=utf-8",
          "Content-Length": String(sums.length),
          "Cache-Control": "no-store",
        },
      });
    }
    const name = requestedFile(pathname, deps.prefix);
    const info = name ? await deps.store.stat(name) : undefined;
    if (!name || !info) return plain(404, "not found");
    const headers: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
      "Last-Modified": new Date(info.mtimeMs).toUTCString(),
    };
    return await rangedResponse(
      req,
      info.size,
      headers,
      async (range) =>
        await deps.store.open(name, range ?? { offset: 0, length: info.size }) ??
          plain(404, "not found"),
    );
  };
}

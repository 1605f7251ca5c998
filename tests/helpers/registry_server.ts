/** The registry's own HTTP app over a storage, served on a real socket (127.0.0.1, port 0) for tests. */
import { createRegistryApp } from "../../src/registry/http/app.ts";
import type { RegistryStorage } from "../../src/registry/storage/storage.ts";
import type { AccessPolicy } from "../../src/registry/auth/access.ts";

/** One request the registry answered. */
export interface LoggedRequest {
  method: string;
  /** Path and query. */
  path: string;
  accept: string | null;
  status: number;
}

/** A served registry; shut down on dispose. */
export interface RegistryServer extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  address: string;
  requests: LoggedRequest[];
  /** Most requests in flight at once so far. */
  maxInFlight: number;
}

/**
 * Serves `storage` with the registry app, over TLS with `tls` (PEM certificate and key), with
 * `access` (htpasswd credentials, pulls with auth) when given;
 * `delayMs` holds every answer back that long.
 */
export function serveRegistry(
  storage: RegistryStorage,
  { delayMs = 0, tls, access }: {
    delayMs?: number;
    tls?: { cert: string; key: string };
    access?: AccessPolicy;
  } = {},
): RegistryServer {
  const app = createRegistryApp({ storage, access });
  let inFlight = 0;
  const served: RegistryServer = {
    address: "",
    requests: [],
    maxInFlight: 0,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {}, ...(tls ?? {}) },
    async (req, info) => {
      served.maxInFlight = Math.max(served.maxInFlight, ++inFlight);
      try {
        if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
        const res = await app.fetch(req, info);
        const url = new URL(req.url);
        served.requests.push({
          method: req.method,
          path: url.pathname + url.search,
          accept: req.headers.get("Accept"),
          status: res.status,
        });
        return res;
      } finally {
        inFlight--;
      }
    },
  );
  served.address = `127.0.0.1:${server.addr.port}`;
  return served;
}

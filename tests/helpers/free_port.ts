/** A free TCP port on 127.0.0.1, for servers whose config does not accept port 0. */

/** Binds port 0, notes the port the system chose, and releases it. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

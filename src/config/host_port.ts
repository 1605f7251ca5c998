/** `HOST:PORT` listen addresses (`registry.debugAddress`): IPv4, a name, or `[IPv6]`, port 0-65535. */

/** A parsed `HOST:PORT`. */
export interface HostPort {
  hostname: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.\-]+)):(\d{1,5})$/;

/** `HOST:PORT` as parts, or undefined when it is no such address (a port above 65535 included). */
export function parseHostPort(text: string): HostPort | undefined {
  const m = HOST_PORT.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { hostname: m[1] ?? m[2], port };
}

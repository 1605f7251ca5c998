import assert from "node:assert/strict";
import { parseHostPort } from "./host_port.ts";

Deno.test("parseHostPort() reads IPv4, names and bracketed IPv6 with a port", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:5001"), { hostname: "127.0.0.1", port: 5001 });
  assert.deepEqual(parseHostPort("localhost:0"), { hostname: "localhost", port: 0 });
  assert.deepEqual(parseHostPort("[::1]:9100"), { hostname: "::1", port: 9100 });
});

Deno.test("parseHostPort() rejects a missing port, a port above 65535 and junk", () => {
  for (
    const bad of ["127.0.0.1", ":5001", "127.0.0.1:", "127.0.0.1:65536", "::1:5001", "a b:1", "h:x"]
  ) {
    assert.equal(parseHostPort(bad), undefined, bad);
  }
});

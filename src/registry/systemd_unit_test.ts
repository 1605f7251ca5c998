// systemdQuote() and serveArgs(): ExecStart arguments survive systemd's parsing.
import assert from "node:assert/strict";
import { defaultServeLimits } from "./limits.ts";
import { serveArgs, systemdQuote } from "./systemd_unit.ts";

Deno.test("systemdQuote() escapes specifiers, variables, spaces and quotes", () => {
  assert.equal(systemdQuote("/var/lib/k0rdentd/registry"), "/var/lib/k0rdentd/registry");
  assert.equal(systemdQuote("50%"), "50%%");
  assert.equal(systemdQuote("$HOME"), "$$HOME");
  assert.equal(systemdQuote("a b"), '"a b"');
  assert.equal(systemdQuote('say "hi"'), '"say \\"hi\\""');
});

Deno.test("serveArgs() reproduces TLS, auth and non-default limit flags", () => {
  const args = serveArgs({
    host: "0.0.0.0",
    port: 5000,
    storage: "/s",
    tls: { mode: "files", cert: "/c.pem", key: "/k.pem", sans: [] },
    auth: { htpasswd: "/h", authPulls: true, readOnly: false },
    limits: { ...defaultServeLimits(), maxConnections: 300, idleTimeoutMs: 90_000 },
  });
  assert.deepEqual(args, [
    "registry",
    "--host",
    "0.0.0.0",
    "--port",
    "5000",
    "--storage",
    "/s",
    "--tls-cert",
    "/c.pem",
    "--tls-key",
    "/k.pem",
    "--htpasswd",
    "/h",
    "--auth-pulls",
    "--max-connections",
    "300",
    "--idle-timeout",
    "90s",
  ]);
});

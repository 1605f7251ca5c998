// systemdQuote() and serveArgs(): ExecStart arguments survive systemd's parsing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { needsTools } from "../../tests/helpers/tools.ts";
import { defaultServeLimits } from "./limits.ts";
import { serveArgs, systemdPath, systemdQuote, systemdUnit, unitBinary } from "./systemd_unit.ts";
import { UserError } from "../errors.ts";

Deno.test("systemdQuote() escapes specifiers, variables, spaces and quotes", () => {
  assert.equal(systemdQuote("/var/lib/k0rdentd/registry"), "/var/lib/k0rdentd/registry");
  assert.equal(systemdQuote("50%"), "50%%");
  assert.equal(systemdQuote("$HOME"), "$$HOME");
  assert.equal(systemdQuote("a b"), '"a b"');
  assert.equal(systemdQuote('say "hi"'), '"say \\"hi\\""');
});

Deno.test("systemdPath() escapes specifiers and quotes, and keeps $ (no variables in ReadWritePaths=)", () => {
  assert.equal(systemdPath("/srv/reg$1"), "/srv/reg$1");
  assert.equal(systemdPath("/srv/50%"), "/srv/50%%");
  assert.equal(systemdPath("/srv/my registry"), '"/srv/my registry"');
  const unit = systemdUnit("/usr/local/bin/k0rdentd", {
    host: "0.0.0.0",
    port: 5000,
    storage: "/srv/reg$1",
    tls: { mode: "files", cert: "/etc/c$.pem", key: "/k.pem", sans: [] },
    auth: { htpasswd: "", authPulls: false, readOnly: false },
    files: { port: 5080, prefix: "k0rdent-enterprise" },
    debugAddress: "",
    accessLog: true,
    limits: defaultServeLimits(),
  });
  assert.match(unit, /^ReadWritePaths=\/srv\/reg\$1$/m);
  assert.match(unit, /^ReadOnlyPaths=.*\/etc\/c\$\.pem/m);
  // ExecStart= does substitute variables: there the $ is doubled.
  assert.match(unit, /^ExecStart=.* --storage \/srv\/reg\$\$1 /m);
});

Deno.test("serveArgs() reproduces TLS, auth, k0s binaries, debug address, access log and non-default limit flags", () => {
  const args = serveArgs({
    host: "0.0.0.0",
    port: 5000,
    storage: "/s",
    tls: { mode: "files", cert: "/c.pem", key: "/k.pem", sans: [] },
    auth: { htpasswd: "/h", authPulls: true, readOnly: false },
    files: { port: 5080, prefix: "k0rdent-enterprise" },
    debugAddress: "0.0.0.0:9101",
    accessLog: false,
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
    "--files-port",
    "5080",
    "--prefix",
    "k0rdent-enterprise",
    "--debug-address",
    "0.0.0.0:9101",
    "--no-access-log",
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

Deno.test("serveArgs() keeps a disabled files port, an empty prefix and no debug address (quoted for systemd)", () => {
  const args = serveArgs({
    host: "::",
    port: 5000,
    storage: "/s",
    tls: { mode: "off", cert: "", key: "", sans: [] },
    auth: { htpasswd: "", authPulls: false, readOnly: false },
    files: { port: 0, prefix: "" },
    debugAddress: "",
    accessLog: true,
    limits: defaultServeLimits(),
  });
  assert.deepEqual(args.slice(7), [
    "--files-port",
    "0",
    "--prefix",
    "",
    "--debug-address",
    "",
    "--tls",
    "off",
  ]);
  assert.equal(systemdQuote(""), '""');
});

Deno.test("systemdUnit() passes --log-format json through to ExecStart, and nothing for text", () => {
  const options = {
    host: "0.0.0.0",
    port: 5000,
    storage: "/s",
    tls: { mode: "off" as const, cert: "", key: "", sans: [] },
    auth: { htpasswd: "", authPulls: false, readOnly: false },
    files: { port: 5080, prefix: "k0rdent-enterprise" },
    debugAddress: "127.0.0.1:5001",
    accessLog: true,
    limits: defaultServeLimits(),
  };
  const exec = (unit: string) => unit.split("\n").find((l) => l.startsWith("ExecStart="));
  assert.equal(
    exec(systemdUnit("/usr/local/bin/k0rdentd", options, "json")),
    "ExecStart=/usr/local/bin/k0rdentd --log-format json registry --host 0.0.0.0 --port 5000 " +
      "--storage /s --files-port 5080 --prefix k0rdent-enterprise --debug-address 127.0.0.1:5001 " +
      "--tls off",
  );
  assert.ok(
    !exec(systemdUnit("/usr/local/bin/k0rdentd", options, "text"))!.includes("--log-format"),
  );
});

Deno.test("serveArgs() and systemdUnit() pass the replication sources, CA and password file", () => {
  const options = {
    host: "0.0.0.0",
    port: 5000,
    storage: "/s",
    tls: { mode: "auto" as const, cert: "", key: "", sans: [] },
    auth: { htpasswd: "", authPulls: false, readOnly: false },
    files: { port: 5080, prefix: "p" },
    debugAddress: "127.0.0.1:5001",
    accessLog: true,
    limits: defaultServeLimits(),
    sync: {
      from: ["https://10.0.0.5:5000", "https://10.0.0.6:5000"],
      filesFrom: ["http://10.0.0.5:8080/k0s", "http://10.0.0.6:8080/k0s"],
      intervalMs: 60_000,
      caFile: "/etc/k0rdentd/peer-ca.crt",
      username: "replica",
      passwordFile: "/etc/k0rdentd/sync.pw",
    },
  };
  assert.deepEqual(serveArgs(options).slice(-16), [
    "--sync-from",
    "https://10.0.0.5:5000",
    "--sync-from",
    "https://10.0.0.6:5000",
    "--sync-files-from",
    "http://10.0.0.5:8080/k0s",
    "--sync-files-from",
    "http://10.0.0.6:8080/k0s",
    "--sync-interval",
    "1m",
    "--sync-ca",
    "/etc/k0rdentd/peer-ca.crt",
    "--sync-username",
    "replica",
    "--sync-password-file",
    "/etc/k0rdentd/sync.pw",
  ]);
  const unit = systemdUnit("/usr/local/bin/k0rdentd", options, "text");
  assert.match(unit, /^ReadOnlyPaths=\/etc\/k0rdentd\/peer-ca\.crt \/etc\/k0rdentd\/sync\.pw$/m);
  const quiet = serveArgs({ ...options, sync: { ...options.sync, from: [], intervalMs: 30_000 } });
  assert.ok(!quiet.some((a) => a.startsWith("--sync")), quiet.join(" "));
  const defaults = serveArgs({
    ...options,
    sync: {
      from: ["http://r:5000"],
      intervalMs: 30_000,
      caFile: "",
      username: "",
      passwordFile: "",
    },
  });
  assert.deepEqual(defaults.slice(-2), ["--sync-from", "http://r:5000"]);
});

/** Serve options with relative paths everywhere a path goes, as `registry --storage ./x` gives. */
function relativeOptions() {
  return {
    host: "0.0.0.0",
    port: 5000,
    storage: "./var/registry",
    tls: { mode: "files" as const, cert: "tls/cert.pem", key: "tls/key.pem", sans: [] },
    auth: { htpasswd: "htpasswd", authPulls: false, readOnly: false },
    files: { port: 5080, prefix: "p" },
    debugAddress: "",
    accessLog: true,
    limits: defaultServeLimits(),
    sync: {
      from: ["https://10.0.0.5:5000"],
      intervalMs: 30_000,
      caFile: "peer-ca.crt",
      username: "replica",
      passwordFile: "../sync.pw",
    },
  };
}

Deno.test("systemdUnit() makes relative paths absolute against the working directory (systemd runs the unit in /)", () => {
  const unit = systemdUnit("/usr/local/bin/k0rdentd", relativeOptions(), "text", "/srv/reg");
  const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
  for (
    const [flag, path] of [
      ["--storage", "/srv/reg/var/registry"],
      ["--tls-cert", "/srv/reg/tls/cert.pem"],
      ["--tls-key", "/srv/reg/tls/key.pem"],
      ["--htpasswd", "/srv/reg/htpasswd"],
      ["--sync-ca", "/srv/reg/peer-ca.crt"],
      ["--sync-password-file", "/srv/sync.pw"],
    ]
  ) assert.ok(exec.includes(` ${flag} ${path}`), `${flag} ${path} in ${exec}`);
  assert.match(unit, /^ReadWritePaths=\/srv\/reg\/var\/registry$/m);
  assert.match(
    unit,
    /^ReadOnlyPaths=\/srv\/reg\/tls\/cert\.pem \/srv\/reg\/tls\/key\.pem \/srv\/reg\/htpasswd \/srv\/reg\/peer-ca\.crt \/srv\/sync\.pw$/m,
  );
});

Deno.test(
  await needsTools(
    "systemdUnit(): real systemd (systemd-analyze verify) keeps every path of a unit made from relative flags",
    "systemd-analyze",
  ),
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "systemd-unit-paths-" });
    try {
      const path = join(dir, "k0rdentd-registry.service");
      const verify = async (unit: string) => {
        await Deno.writeTextFile(path, unit);
        const out = await new Deno.Command("systemd-analyze", {
          args: ["verify", "--man=no", path],
          stdout: "piped",
          stderr: "piped",
        }).output();
        return new TextDecoder().decode(out.stderr);
      };
      const text = await verify(systemdUnit("/bin/true", relativeOptions(), "text", dir));
      assert.doesNotMatch(text, /not absolute/, text);
      // It can fail: systemd drops a relative ReadWritePaths= (the storage would be read-only).
      const relative = await verify(
        `[Service]\nExecStart=/bin/true\nReadWritePaths=./var/registry\n`,
      );
      assert.match(relative, /ReadWritePaths= path is not absolute, ignoring: \.\/var\/registry/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("unitBinary() is the running executable, /usr/local/bin/k0rdentd under deno, and refuses one the unit cannot run", () => {
  assert.equal(unitBinary("/usr/local/bin/k0rdentd"), "/usr/local/bin/k0rdentd");
  assert.equal(
    unitBinary("/root/k0rdentd-airgap-linux-amd64"),
    "/root/k0rdentd-airgap-linux-amd64",
  );
  assert.equal(unitBinary("/opt/tmp/k0rdentd"), "/opt/tmp/k0rdentd");
  assert.equal(unitBinary("/work/node_modules/deno/deno"), "/usr/local/bin/k0rdentd");
  // PrivateTmp=yes: systemd looks the executable up inside the unit's mount namespace.
  for (const exec of ["/tmp/k0rdentd-airgap-linux-amd64", "/var/tmp/dl/k0rdentd"]) {
    assert.throws(
      () => unitBinary(exec),
      (err: Error) =>
        err instanceof UserError &&
        err.message ===
          `The registry unit cannot run "${exec}": the unit has PrivateTmp=yes, so systemd finds ` +
            "no executable under /tmp or /var/tmp; install it with `install -m 0755 <k0rdentd> " +
            "/usr/local/bin/k0rdentd` and run that one",
    );
  }
  // /proc/self/exe of a file removed or replaced since the process started.
  assert.throws(
    () => unitBinary("/usr/local/bin/k0rdentd (deleted)"),
    /^UserError: The registry unit cannot run this k0rdentd: its file "\/usr\/local\/bin\/k0rdentd" was removed or replaced since it started; install it with/,
  );
});

/** `--log-format json`: every stderr line of a real run is one JSON object; text stays as it was. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { FakeHost, FAKES_DIR, serveK0sRelease } from "./helpers/fake_host.ts";

/** Parses every stderr line, failing on the first that is not a JSON log line. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  const lines = stderr.split("\n").filter((l) => l !== "");
  assert.ok(lines.length > 0, "expected log lines");
  return lines.map((line) => {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      assert.fail(`not a JSON line: ${line}`);
    }
    assert.match(String(record.level), /^(error|warn|info|debug)$/, line);
    assert.match(String(record.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, line);
    assert.equal(typeof record.msg, "string", line);
    return record;
  });
}

const SECRETS = ["aws-secret-key-5e1d", "azure-client-secret-93aa"];
const SECRET_CONFIG = `k0rdent:
  credentials:
    aws:
      - name: aws-cred
        accessKeyID: AKIAEXAMPLE
        secretAccessKey: \${AWS_SECRET}
    azure:
      - name: azure-cred
        subscriptionID: sub-1
        tenantID: tenant-1
        clientID: client-1
        clientSecret: ${SECRETS[1]}
`;

Deno.test("install --dry-run --debug --log-format json: JSON lines only, secrets kept out", async () => {
  await using host = await FakeHost.create();
  const arch = Deno.build.arch === "aarch64" ? "arm64" : "amd64";
  const k0s = await Deno.readFile(join(FAKES_DIR, "k0s"));
  await using release = await serveK0sRelease("v1.32.8+k0s.0", arch, k0s);
  const configFile = join(host.dir, "k0rdentd.yaml");
  await Deno.writeTextFile(configFile, SECRET_CONFIG, { mode: 0o600 });
  const args = [
    "install",
    "--dry-run",
    "--debug",
    "--log-format",
    "json",
    "-c",
    configFile,
    "--ignore-preflight-errors=root,ports",
    "--k0s-download-url",
    release.url,
  ];
  const result = await host.run(args, { AWS_SECRET: SECRETS[0] });
  assert.equal(result.code, 0, result.stderr);
  const records = jsonLines(result.stderr);
  const messages = records.map((r) => r.msg as string);
  assert.ok(messages.some((m) => m.startsWith("Would run")), messages.join("\n"));
  assert.ok(records.some((r) => r.level === "debug"), "--debug lines are JSON too");
  for (const secret of SECRETS) {
    assert.ok(!(result.stdout + result.stderr).includes(secret), `secret in output: ${secret}`);
  }

  // The same run in text: no JSON, the familiar level tags.
  const text = await host.run(args.filter((a) => a !== "--log-format" && a !== "json"), {
    AWS_SECRET: SECRETS[0],
  });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stderr, /^\S+ INFO {2}/m);
  assert.ok(!text.stderr.split("\n").some((l) => l.startsWith("{")), text.stderr);
});

Deno.test("config validate with a problem: the error is a JSON line (flag, env or config key)", async () => {
  const root = await Deno.makeTempDir({ prefix: "k0rdentd-cli-" });
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, "registry:\n  port: high\n");
  const flag = await runCli(["config", "validate", "-c", file, "--log-format", "json"]);
  assert.equal(flag.code, 1);
  const [record] = jsonLines(flag.stderr);
  assert.equal(record.level, "error");
  assert.match(record.msg as string, /^Config ".*k\.yaml" has 1 problem\(s\)$/);
  assert.match(flag.stdout, /registry\.port: expected a number \(k\.yaml:2\)/);

  const env = await runCli(["config", "validate", "-c", file], {
    env: { K0RDENTD_LOG_FORMAT: "json" },
  });
  assert.equal(env.code, 1);
  assert.deepEqual(jsonLines(env.stderr).map((r) => r.msg), [record.msg]);

  const text = await runCli(["config", "validate", "-c", file]);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /^ERROR Config ".*k\.yaml" has 1 problem\(s\)\n$/);

  // The config key: in effect once the file is read (debug lines after it are JSON).
  const keyed = join(root, "json.yaml");
  await Deno.writeTextFile(keyed, "logFormat: json\n");
  const shown = await runCli(["--debug", "-c", keyed, "config", "show", "--output", "json"]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.equal(JSON.parse(shown.stdout).logFormat, "json");
  assert.deepEqual(jsonLines(shown.stderr).map((r) => r.msg), [`Using config file "${keyed}"`]);
  // The flag beats the file.
  const flagWins = await runCli(["--debug", "-c", keyed, "--log-format", "text", "config", "show"]);
  assert.match(flagWins.stderr, /DEBUG Using config file/);
});

Deno.test("--log-format json: commander's own errors are JSON lines too", async () => {
  for (
    const args of [["--log-format", "json", "config", "show", "--bogus"], [
      "--log-format=json",
      "no-such-command",
    ]]
  ) {
    const r = await runCli(args);
    assert.equal(r.code, 2, r.stderr);
    const records = jsonLines(r.stderr);
    assert.equal(records[0].level, "error");
    assert.match(records[0].msg as string, /unknown (option '--bogus'|command 'no-such-command')/);
  }
});

Deno.test("a bad --log-format or K0RDENTD_LOG_FORMAT is a usage error quoting the value", async () => {
  const flag = await runCli(["version", "--log-format", "xml"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /'xml' is invalid\. Allowed choices are text, json/);
  const env = await runCli(["version"], { env: { K0RDENTD_LOG_FORMAT: "xml" } });
  assert.equal(env.code, 2);
  assert.match(
    env.stderr,
    /^ERROR Invalid K0RDENTD_LOG_FORMAT "xml": expected one of text, json$/m,
  );
  const file = join(await Deno.makeTempDir(), "k.yaml");
  await Deno.writeTextFile(file, "logFormat: xml\n");
  const config = await runCli(["config", "validate", "-c", file]);
  assert.equal(config.code, 1);
  assert.match(config.stdout, /logFormat: expected one of "text", "json" \(k\.yaml:1\)/);
});

Deno.test("registry --print-systemd-unit passes --log-format json through to ExecStart", async () => {
  const storage = await Deno.makeTempDir();
  const exec = async (args: string[]) => {
    const r = await runCli(["registry", "--print-systemd-unit", "--storage", storage, ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split("\n").find((l) => l.startsWith("ExecStart="))!;
  };
  assert.match(await exec(["--log-format", "json"]), / --log-format json registry --host /);
  assert.doesNotMatch(await exec([]), /--log-format/);
});

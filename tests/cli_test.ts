/** End-to-end tests of the CLI foundation: `main.ts` run as a subprocess. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "./helpers/cli.ts";
import { BINARY_PERMISSIONS } from "../src/permissions.ts";

async function tempRoot(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "k0rdentd-cli-" });
}

const SECRET_CONFIG = [
  "logLevel: warn",
  "k0rdent:",
  "  credentials:",
  "    aws:",
  "      - name: aws-main",
  "        accessKeyID: AKIAEXAMPLEKEY",
  "        secretAccessKey: ${AWS_SECRET}",
  "    azure:",
  "      - name: az",
  "        subscriptionID: sub",
  "        tenantID: tenant",
  "        clientID: client",
  "        clientSecret: azure-client-secret-value",
  "join:",
  "  token: join-token-value",
].join("\n");

Deno.test("global flags work before and after the subcommand", async () => {
  const root = await tempRoot();
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, "registry:\n  port: 6001\n");
  const before = await runCli(["-c", file, "--output", "json", "config", "show"], {
    env: { K0RDENTD_ROOT: root },
  });
  const after = await runCli(["config", "show", "--output", "json", "-c", file], {
    env: { K0RDENTD_ROOT: root },
  });
  assert.deepEqual(before.code, 0, before.stderr);
  assert.deepEqual(after.code, 0, after.stderr);
  assert.deepEqual(JSON.parse(before.stdout).registry.port, 6001);
  assert.deepEqual(before.stdout, after.stdout);
});

Deno.test("log level: default < file < env < flag, and --debug works in both positions", async () => {
  const root = await tempRoot();
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, "logLevel: warn\n");
  const level = async (args: string[], env: Record<string, string> = {}) => {
    const r = await runCli(["config", "show", "--output", "json", ...args], {
      env: { K0RDENTD_ROOT: root, ...env },
    });
    assert.deepEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).logLevel;
  };
  assert.deepEqual(await level([]), "info");
  assert.deepEqual(await level(["-c", file]), "warn");
  assert.deepEqual(await level(["-c", file], { K0RDENTD_LOG_LEVEL: "error" }), "error");
  assert.deepEqual(
    await level(["-c", file, "--log-level", "debug"], { K0RDENTD_LOG_LEVEL: "error" }),
    "debug",
  );
  assert.deepEqual(await level(["--debug"], { K0RDENTD_LOG_LEVEL: "error" }), "debug");
  const r = await runCli(["--debug", "config", "show"], { env: { K0RDENTD_ROOT: root } });
  assert.match(r.stderr, /^\d{4}-\d\d-\d\dT.*DEBUG No config file; using defaults$/m);
});

Deno.test("K0RDENTD_CONFIG_FILE selects the file; a missing explicit file exits 1", async () => {
  const root = await tempRoot();
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, "registry:\n  storage: /from-env-file\n");
  const ok = await runCli(["config", "show", "--output", "json"], {
    env: { K0RDENTD_ROOT: root, K0RDENTD_CONFIG_FILE: file },
  });
  assert.deepEqual(JSON.parse(ok.stdout).registry.storage, "/from-env-file");
  const missing = await runCli(["-c", join(root, "nope.yaml"), "config", "show"], {
    env: { K0RDENTD_ROOT: root },
  });
  assert.deepEqual(missing.code, 1);
  assert.deepEqual(
    missing.stderr.trim(),
    `ERROR Cannot read config file "${join(root, "nope.yaml")}": no such file`,
  );
});

Deno.test("config show masks every secret, from the file and from the environment", async () => {
  const root = await tempRoot();
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, SECRET_CONFIG, { mode: 0o600 });
  for (const output of ["text", "json"]) {
    const r = await runCli(["config", "show", "-c", file, "--output", output], {
      env: { K0RDENTD_ROOT: root, AWS_SECRET: "aws-secret-from-env" },
    });
    assert.deepEqual(r.code, 0, r.stderr);
    for (
      const secret of [
        "AKIAEXAMPLEKEY",
        "aws-secret-from-env",
        "azure-client-secret-value",
        "join-token-value",
      ]
    ) {
      assert.ok(
        !r.stdout.includes(secret) && !r.stderr.includes(secret),
        `${secret} leaked (${output})`,
      );
    }
    assert.ok(r.stdout.includes("aws-main"));
  }
});

Deno.test("a group-readable config file holding credentials gets a warning", async () => {
  const root = await tempRoot();
  const file = join(root, "k.yaml");
  await Deno.writeTextFile(file, SECRET_CONFIG);
  await Deno.chmod(file, 0o644);
  const r = await runCli(["config", "validate", "-c", file], {
    env: { K0RDENTD_ROOT: root, AWS_SECRET: "x" },
  });
  assert.deepEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /holds credentials and is readable by group or others \(mode 644\)/);
  await Deno.chmod(file, 0o600);
  const quiet = await runCli(["config", "validate", "-c", file], {
    env: { K0RDENTD_ROOT: root, AWS_SECRET: "x" },
  });
  assert.ok(!quiet.stderr.includes("readable by group"));
});

Deno.test("config validate exits 1 listing every problem with path and line", async () => {
  const root = await tempRoot();
  const file = join(root, "k0rdentd.yaml");
  await Deno.writeTextFile(file, "registry:\n  port: high\n  colour: red\nlogLevel: chatty\n");
  const r = await runCli(["config", "validate", "-c", file], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(r.code, 1);
  assert.deepEqual(r.stdout.trim().split("\n").sort(), [
    'logLevel: expected one of "error", "warn", "info", "debug" (k0rdentd.yaml:4)',
    'registry.colour: unknown key "colour" (k0rdentd.yaml:3)',
    "registry.port: expected a number (k0rdentd.yaml:2)",
  ]);
  assert.ok(!r.stderr.includes("    at "), "no stack trace");
  const json = await runCli(["config", "validate", "-c", file, "--output", "json"], {
    env: { K0RDENTD_ROOT: root },
  });
  assert.deepEqual(JSON.parse(json.stdout).problems.length, 3);
});

Deno.test("config init writes a valid commented file 0600 and refuses to overwrite without --force", async () => {
  const root = await tempRoot();
  const file = join(root, "etc", "k0rdentd.yaml");
  const first = await runCli(["config", "init", "-o", file], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(first.code, 0, first.stderr);
  assert.deepEqual((await Deno.stat(file)).mode! & 0o777, 0o600);
  assert.ok((await Deno.readTextFile(file)).includes("# k0rdentd configuration"));
  const valid = await runCli(["config", "validate", "-c", file], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(valid.code, 0, valid.stdout + valid.stderr);
  await Deno.writeTextFile(file, "logLevel: warn\n");
  const again = await runCli(["config", "init", "-o", file], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(again.code, 1);
  assert.match(again.stderr, /already exists: use --force/);
  assert.deepEqual(await Deno.readTextFile(file), "logLevel: warn\n");
  const forced = await runCli(["config", "init", "-o", file, "--force"], {
    env: { K0RDENTD_ROOT: root },
  });
  assert.deepEqual(forced.code, 0);
  assert.ok((await Deno.readTextFile(file)).includes("# k0rdentd configuration"));
});

Deno.test("config init defaults to the config file under K0RDENTD_ROOT; dry-run writes nothing", async () => {
  const root = await tempRoot();
  const dry = await runCli(["config", "init"], {
    env: { K0RDENTD_ROOT: root, K0RDENTD_DRY_RUN: "1" },
  });
  assert.deepEqual(dry.code, 0, dry.stderr);
  assert.deepEqual([...Deno.readDirSync(root)], []);
  const unclear = await runCli(["config", "init"], {
    env: { K0RDENTD_ROOT: root, K0RDENTD_DRY_RUN: "maybe" },
  });
  assert.deepEqual(unclear.code, 2, unclear.stderr);
  assert.match(unclear.stderr, /Invalid K0RDENTD_DRY_RUN "maybe"/);
  assert.deepEqual([...Deno.readDirSync(root)], []);
  const real = await runCli(["config", "init"], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(real.code, 0, real.stderr);
  assert.ok((await Deno.stat(join(root, "etc/k0rdentd/k0rdentd.yaml"))).isFile);
});

Deno.test("usage errors exit 2 with a suggestion; --help exits 0 with examples", async () => {
  const root = await tempRoot();
  const env = { K0RDENTD_ROOT: root };
  const typo = await runCli(["confg", "show"], { env });
  assert.deepEqual(typo.code, 2);
  assert.match(typo.stderr, /unknown command 'confg'/);
  assert.match(typo.stderr, /Did you mean config\?/);
  const flag = await runCli(["version", "--outptu", "json"], { env });
  assert.deepEqual(flag.code, 2);
  assert.match(flag.stderr, /unknown option '--outptu'/);
  assert.match(flag.stderr, /Did you mean --output\?/);
  const badOutput = await runCli(["version", "--output", "yaml"], { env });
  assert.deepEqual(badOutput.code, 2);
  const none = await runCli([], { env });
  assert.deepEqual(none.code, 2);
  for (
    const args of [["--help"], ["version", "--help"], ["config", "init", "--help"], [
      "show-flavor",
      "--help",
    ]]
  ) {
    const help = await runCli(args, { env });
    assert.deepEqual(help.code, 0, args.join(" "));
    assert.match(help.stdout, /Examples:/, args.join(" "));
  }
});

Deno.test("version and show-flavor report the online flavor from source, in text and JSON", async () => {
  const root = await tempRoot();
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const text = await runCli(["version"], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(text.code, 0);
  assert.match(
    text.stdout,
    new RegExp(`^k0rdentd ${denoJson.version.replaceAll(".", "\\.")} \\(online\\)`),
  );
  const json = await runCli(["show-flavor", "--output", "json"], { env: { K0RDENTD_ROOT: root } });
  assert.deepEqual(JSON.parse(json.stdout).flavor, "online");
  // One name for the embedded assets in both commands.
  const version = await runCli(["version", "--output", "json"], { env: { K0RDENTD_ROOT: root } });
  assert.ok(Array.isArray(JSON.parse(version.stdout).assets), version.stdout);
  assert.deepEqual(JSON.parse(json.stdout).assets, JSON.parse(version.stdout).assets);
  assert.equal(JSON.parse(json.stdout).embedded, undefined);
});

Deno.test("a broken build metadata file is one clear error line and exit 1", async () => {
  const root = await tempRoot();
  const assets = join(root, "assets");
  await Deno.mkdir(assets);
  await Deno.writeTextFile(join(assets, "build-info.json"), "{not json");
  const r = await runCli(["show-flavor"], {
    env: { K0RDENTD_ROOT: root, K0RDENTD_ASSETS_DIR: assets },
  });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^ERROR Cannot read build metadata ".*build-info.json": /);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

Deno.test("a typo in a boolean flag is a usage error, never a silent false", async () => {
  const root = await tempRoot();
  for (
    const args of [["registry", "--verify=flase", "--print-systemd-unit"], [
      "bundle",
      "verify",
      "x.tar.gz",
      "--verify=flase",
    ]]
  ) {
    const r = await runCli(args, { env: { K0RDENTD_ROOT: root } });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /Invalid --verify "flase": expected true or false/);
  }
});

Deno.test("a bad flag value is a usage error (exit 2) quoting the value; a bad env value exits 1", async () => {
  const root = await tempRoot();
  const cases: [string[], string][] = [
    [["registry", "--port", "99999", "--dry-run"], 'Invalid --port "99999": must be at most 65535'],
    [["registry", "--port", "http", "--dry-run"], 'Invalid --port "http": expected a number'],
    [["registry", "--files-port", "-1", "--dry-run"], 'Invalid --files-port "-1": '],
    [["registry", "status", "--storage", ""], 'Invalid --storage "": must not be empty'],
    [["install", "--dry-run", "--k0s-version", "1.32"], 'Invalid --k0s-version "1.32": '],
    [["install", "--dry-run", "--registry-address", "a b"], 'Invalid --registry-address "a b": '],
    [["install", "--dry-run", "--timeout", "soon"], 'Invalid --timeout "soon": '],
    [["status", "--command-timeout", "0"], 'Invalid --command-timeout "0": '],
    [["export-join-config", "--registry-port", "0"], 'Invalid --registry-port "0": '],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { env: { K0RDENTD_ROOT: root } });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`ERROR ${message}`), `${args.join(" ")}: ${r.stderr}`);
  }
  const env = await runCli(["registry", "--dry-run"], {
    env: { K0RDENTD_ROOT: root, K0RDENTD_REGISTRY_PORT: "99999" },
  });
  assert.equal(env.code, 1, env.stderr);
  assert.match(env.stderr, /registry\.port: must be at most 65535 \(env K0RDENTD_REGISTRY_PORT\)/);
});

Deno.test("the k0rdentd deno task runs main.ts with exactly the compiled binary's permissions", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const task: string = denoJson.tasks.k0rdentd;
  // The registry storage commands find `deno task registry`'s storage (tests/tasks_storage_test.ts).
  assert.match(
    task,
    /^K0RDENTD_REGISTRY_STORAGE=\$PWD\/var\/registry node_modules\/\.bin\/deno run /,
  );
  const flags = task.split(/\s+/).filter((a) => a.startsWith("--allow-"));
  assert.deepEqual(flags, [...BINARY_PERMISSIONS]);
  assert.match(task, / main\.ts$/);
  assert.ok(!task.includes("--allow-all") && !task.includes(" -A "));
  // As the README shows it: arguments after `--` reach the CLI, flags included.
  const root = await tempRoot();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "k0rdentd", "--", "registry", "--port", "99999", "--dry-run"],
    cwd: new URL("..", import.meta.url),
    env: { K0RDENTD_ROOT: root, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 2, stderr);
  assert.match(stderr, /ERROR Invalid --port "99999": must be at most 65535/);
});

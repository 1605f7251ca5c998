import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../errors.ts";

/** Awaits `fn`, asserts it rejects with `type` (and `includes` in the message), returns the error. */
async function rejection<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
  includes = "",
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
    assert.ok(err.message.includes(includes), err.message);
    return err;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}
import { checkConfig, formatProblem, loadConfig } from "./load.ts";

async function tempFile(text: string, mode = 0o600): Promise<string> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "k0rdentd.yaml");
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  return path;
}

const noEnv = (_: string) => undefined;

Deno.test("loadConfig() deep-merges defaults under a file holding only k0s", async () => {
  const file = await tempFile("k0s:\n  version: v1.33.1+k0s.0\n");
  const { config } = await loadConfig({ file, env: noEnv });
  assert.deepEqual(config.k0s.version, "v1.33.1+k0s.0");
  assert.deepEqual(config.k0s.api.port, 6443);
  assert.deepEqual(config.k0rdent.helm.chart, "oci://ghcr.io/k0rdent/kcm/charts/kcm");
  assert.deepEqual(config.k0rdent.helm.namespace, "kcm-system");
});

Deno.test("loadConfig() applies defaults < file < env < flags for several fields", async () => {
  const file = await tempFile(
    "logLevel: warn\nregistry:\n  port: 6000\n  storage: /file\n  host: 10.0.0.1\n",
  );
  const env: Record<string, string> = {
    K0RDENTD_REGISTRY_PORT: "7000",
    K0RDENTD_REGISTRY_STORAGE: "/env",
    K0RDENTD_LOG_LEVEL: "error",
  };
  const cases: {
    name: string;
    file?: string;
    env: Record<string, string>;
    flags: boolean;
    want: [number, string, string, string];
  }[] = [
    {
      name: "defaults",
      env: {},
      flags: false,
      want: [5000, "/var/lib/k0rdentd/registry", "0.0.0.0", "info"],
    },
    { name: "file", file, env: {}, flags: false, want: [6000, "/file", "10.0.0.1", "warn"] },
    { name: "env", file, env, flags: false, want: [7000, "/env", "10.0.0.1", "error"] },
    { name: "flags", file, env, flags: true, want: [8000, "/flag", "10.0.0.1", "debug"] },
  ];
  for (const c of cases) {
    const overrides = c.flags
      ? [
        { path: ["registry", "port"], value: 8000, flag: "--port" },
        { path: ["registry", "storage"], value: "/flag", flag: "--storage" },
        { path: ["logLevel"], value: "debug", flag: "--debug" },
      ]
      : [];
    const file = c.file ?? join(await Deno.makeTempDir(), "absent.yaml");
    const { config } = c.file
      ? await loadConfig({ file, env: (n) => c.env[n], overrides })
      : await loadConfig({ file: undefined, env: (n) => c.env[n], overrides });
    assert.deepEqual(
      [config.registry.port, config.registry.storage, config.registry.host, config.logLevel],
      c.want,
      c.name,
    );
  }
});

Deno.test("loadConfig() expands ${VAR} and ${VAR:-default} in strings", async () => {
  const file = await tempFile(
    [
      "k0rdent:",
      "  credentials:",
      "    aws:",
      "      - name: main",
      "        accessKeyID: ${AK}",
      "        secretAccessKey: ${SK:-fallback}",
      "        region: eu-${REGION:-west-1}",
    ].join("\n"),
  );
  const { config } = await loadConfig({
    file,
    env: (n) => ({ AK: "AKIA1" } as Record<string, string>)[n],
  });
  const aws = config.k0rdent.credentials.aws[0];
  assert.deepEqual([aws.accessKeyID, aws.secretAccessKey, aws.region], [
    "AKIA1",
    "fallback",
    "eu-west-1",
  ]);
});

Deno.test("checkConfig() names an unset ${VAR} with its path and line", async () => {
  const file = await tempFile("k0rdent:\n  helm:\n    chart: ${CHART_URL}\n");
  const check = await checkConfig({ file, env: noEnv });
  assert.deepEqual(check.problems.map(formatProblem), [
    'k0rdent.helm.chart: environment variable "CHART_URL" is not set and has no default (k0rdentd.yaml:3)',
  ]);
});

Deno.test("checkConfig() reports every validation error class with path and line", async () => {
  const file = await tempFile(
    [
      "logLevel: loud", // 1 bad enum value
      "k0s:",
      "  api:",
      "    port: 70000", // 4 out of range
      "  network:",
      "    podCIDR: nonsense", // 6 bad format
      "k0rdent:",
      "  credentials:",
      "    aws:",
      "      - name: a",
      "        region: 14", // 11 wrong type
      "        accessKeyID: x", // secretAccessKey missing
      "    openstack:",
      "      - name: os", // 14 refine: no credentials
      "        authURL: https://keystone.example:5000/v3",
      "  colour: blue", // 16 unknown key
    ].join("\n"),
  );
  const check = await checkConfig({ file, env: noEnv });
  const lines = check.problems.map(formatProblem).sort();
  assert.deepEqual(lines, [
    'k0rdent.colour: unknown key "colour" (k0rdentd.yaml:16)',
    "k0rdent.credentials.aws[0].region: expected a string (k0rdentd.yaml:11)",
    "k0rdent.credentials.aws[0].secretAccessKey: is required (k0rdentd.yaml:10)",
    "k0rdent.credentials.openstack[0]: needs applicationCredentialID and applicationCredentialSecret, or username, password and projectName (k0rdentd.yaml:14)",
    "k0s.api.port: must be at most 65535 (k0rdentd.yaml:4)",
    "k0s.network.podCIDR: expected a CIDR such as 10.244.0.0/16 (k0rdentd.yaml:6)",
    'logLevel: expected one of "error", "warn", "info", "debug" (k0rdentd.yaml:1)',
  ]);
  assert.deepEqual(check.config, undefined);
});

Deno.test("checkConfig() refuses k0s API addresses and CIDRs that k0s's ClusterConfig validation refuses", async () => {
  const check = async (address: string, podCIDR: string, serviceCIDR: string) => {
    const file = await tempFile(
      [
        "k0s:",
        "  api:",
        `    address: "${address}"`,
        "  network:",
        `    podCIDR: "${podCIDR}"`,
        `    serviceCIDR: "${serviceCIDR}"`,
      ].join("\n"),
    );
    return (await checkConfig({ file, env: noEnv })).problems.map(formatProblem).sort();
  };
  const address =
    "expected this node's IP address such as 10.0.0.5 (k0s refuses host names and 0.0.0.0), or empty to let k0s pick it";
  for (const bad of ["k0s.example.com", "0.0.0.0", "::", "010.0.0.5", "fe80::1%eth0"]) {
    assert.deepEqual(await check(bad, "10.244.0.0/16", "fd00::/108"), [
      `k0s.api.address: ${address} (k0rdentd.yaml:3)`,
    ], bad);
  }
  assert.deepEqual(await check("10.0.0.5", "999.1.1.0/16", "10.96.0.0/33"), [
    "k0s.network.podCIDR: expected a CIDR such as 10.244.0.0/16 (k0rdentd.yaml:5)",
    "k0s.network.serviceCIDR: expected a CIDR such as 10.244.0.0/16 (k0rdentd.yaml:6)",
  ]);
  assert.deepEqual(await check("", "10.244.0.0/16", "10.96.0.0/12"), []);
  assert.deepEqual(await check("fd00::5", "fd00:10::/64", "fd00:20::/108"), []);
});

Deno.test("checkConfig() attributes env and flag values to their origin", async () => {
  const check = await checkConfig({
    file: undefined,
    env: (n) => n === "K0RDENTD_REGISTRY_PORT" ? "not-a-port" : undefined,
    overrides: [{ path: ["registry", "host"], value: "", flag: "--host" }],
  });
  assert.deepEqual(check.problems.map(formatProblem).sort(), [
    "registry.host: must not be empty (flag --host)",
    "registry.port: expected a number (env K0RDENTD_REGISTRY_PORT)",
  ]);
});

Deno.test("loadConfig() rejects YAML syntax errors and non-mappings with the line", async () => {
  const bad = await tempFile("k0s:\n  version: [unclosed\n");
  const err = await rejection(() => loadConfig({ file: bad, env: noEnv }), UserError);
  assert.match(
    err.message,
    /^Cannot parse config file ".*k0rdentd.yaml": .* \(k0rdentd.yaml:\d+\)$/,
  );
  const list = await tempFile("- a\n- b\n");
  await rejection(
    () => loadConfig({ file: list, env: noEnv }),
    UserError,
    "expected a mapping",
  );
});

Deno.test("loadConfig() fails on a missing explicit file but not on a missing default", async () => {
  const dir = await Deno.makeTempDir();
  await rejection(
    () => loadConfig({ file: join(dir, "nope.yaml"), env: noEnv }),
    UserError,
    "no such file",
  );
  const root = Deno.env.get("K0RDENTD_ROOT");
  Deno.env.set("K0RDENTD_ROOT", dir);
  try {
    const { config, file } = await loadConfig({ env: noEnv });
    assert.deepEqual(file, undefined);
    assert.deepEqual(config.registry.port, 5000);
  } finally {
    if (root === undefined) Deno.env.delete("K0RDENTD_ROOT");
    else Deno.env.set("K0RDENTD_ROOT", root);
  }
});

Deno.test("loadConfig() error lists every problem in one message", async () => {
  const file = await tempFile("logLevel: 3\nregistry:\n  port: x\n");
  const err = await rejection(() => loadConfig({ file, env: noEnv }), UserError);
  assert.ok(err.message.includes("logLevel: expected one of"));
  assert.ok(err.message.includes("registry.port: expected a number (k0rdentd.yaml:3)"));
});

Deno.test("loadConfig() takes airgap.registry.address as a list or comma-separated (replicas)", async () => {
  const list = await tempFile(
    "airgap:\n  registry:\n    address: [10.0.0.5:5000, 10.0.0.6:5000]\nregistry:\n  syncFrom: [https://10.0.0.5:5000]\n",
  );
  const { config } = await loadConfig({ file: list, env: noEnv });
  assert.equal(config.airgap.registry.address, "10.0.0.5:5000,10.0.0.6:5000");
  assert.deepEqual(config.registry.syncFrom, ["https://10.0.0.5:5000"]);
  const flag = await loadConfig({
    file: undefined,
    env: noEnv,
    overrides: [{
      path: ["airgap", "registry", "address"],
      value: "10.0.0.5:5000, 10.0.0.6:5000",
      flag: "--registry-address",
    }],
  });
  assert.equal(flag.config.airgap.registry.address, "10.0.0.5:5000,10.0.0.6:5000");
  const bad = await checkConfig({
    file: undefined,
    env: (n) => n === "K0RDENTD_REGISTRY_ADDRESS" ? "10.0.0.5:5000,no/slash" : undefined,
  });
  assert.deepEqual(bad.problems.map(formatProblem), [
    "airgap.registry.address: expected HOST or HOST:PORT such as localhost:5000 (several: a list, or separated by commas) (env K0RDENTD_REGISTRY_ADDRESS)",
  ]);
});

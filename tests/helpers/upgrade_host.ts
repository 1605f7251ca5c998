/**
 * In-process phase tests on a {@link FakeHost}: copies of the fake k0s with a baked-in version
 * (like release binaries of different versions), an installed and running old k0s, and an
 * {@link InstallContext} whose tools run with the fake host's environment (nothing process-wide).
 */
import { join } from "node:path";
import { defaultConfig } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/schema.ts";
import { HostMutator } from "../../src/host/mutator.ts";
import { HOST } from "../../src/host/paths.ts";
import { installOptions } from "../../src/install/options.ts";
import type { InstallContext, InstallOptions } from "../../src/install/phase.ts";
import { K0sCli } from "../../src/k0s/k0s_cli.ts";
import { Kubectl } from "../../src/kube/kubectl.ts";
import { ProcessRunner, type Runner } from "../../src/process/runner.ts";
import { type FakeHost, FAKES_DIR } from "./fake_host.ts";

/** Writes a copy of `tests/fakes/k0s` that reports `version` (mode 0755); returns its bytes. */
export async function writeFakeK0s(path: string, version: string): Promise<Uint8Array> {
  const text = await Deno.readTextFile(join(FAKES_DIR, "k0s"));
  const baked = text.replace('baked_version=""', `baked_version="${version}"`);
  if (baked === text) throw new Error("tests/fakes/k0s has no baked_version line");
  await Deno.writeTextFile(path, baked, { mode: 0o755 });
  return new TextEncoder().encode(baked);
}

/** A runner that gives every program the fake host's environment (plus `env`). */
export function hostRunner(host: FakeHost, env: Record<string, string> = {}): Runner {
  const real = new ProcessRunner();
  const base = host.env(env);
  return {
    run: (argv, options = {}) => real.run(argv, { ...options, env: { ...base, ...options.env } }),
  };
}

/**
 * Installs k0s `version` as `/usr/local/bin/k0s` on `host`, as a service (with `k0sYaml` as
 * `/etc/k0s/k0s.yaml` when given), and starts it.
 */
export async function installRunningK0s(
  host: FakeHost,
  version: string,
  { env = {}, k0sYaml }: { env?: Record<string, string>; k0sYaml?: string } = {},
): Promise<void> {
  const binary = join(host.root, HOST.k0sBinary);
  await Deno.mkdir(join(binary, ".."), { recursive: true });
  await writeFakeK0s(binary, version);
  const config = join(host.root, HOST.k0sConfig);
  if (k0sYaml !== undefined) {
    await Deno.mkdir(join(config, ".."), { recursive: true });
    await Deno.writeTextFile(config, k0sYaml);
  }
  const runner = hostRunner(host, env);
  const install = ["install", "controller", "--enable-worker", ...(k0sYaml ? ["-c", config] : [])];
  for (const args of [install, ["start"]]) {
    const result = await runner.run([binary, ...args]);
    if (result.code !== 0) throw new Error(`k0s ${args.join(" ")}: ${result.stderrTail}`);
  }
  await host.clearCalls();
}

/** What {@link upgradeContext} is built from. */
export interface UpgradeContextOptions {
  options?: Partial<InstallOptions>;
  config?: (config: Config) => void;
  dryRun?: boolean;
  /** Extra environment of the fake tools (FAKE_CLUSTER_NODES...). */
  env?: Record<string, string>;
}

/** A phase context on `host`: host paths under its root, its fake tools, fast polls. */
export function upgradeContext(host: FakeHost, how: UpgradeContextOptions = {}): InstallContext {
  const runner = hostRunner(host, how.env);
  const mutator = new HostMutator(runner, how.dryRun === true, (p) => join(host.root, p));
  const k0s = new K0sCli({ runner, host: mutator, timeoutMs: 60_000 });
  const config = defaultConfig();
  how.config?.(config);
  return {
    config,
    options: {
      ...installOptions({}, false),
      arch: "amd64",
      pollIntervalMs: 10,
      kubernetesTimeoutMs: 20_000,
      ...how.options,
    },
    host: mutator,
    runner,
    k0s,
    kubectl: new Kubectl(k0s),
    output: "text",
    signal: new AbortController().signal,
    state: {},
    facts: {},
  };
}

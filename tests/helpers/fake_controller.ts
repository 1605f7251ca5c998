/**
 * A temp controller for the join and worker-bundle tests: a `K0RDENTD_ROOT` whose
 * `/usr/local/bin/k0s` is the fake `tests/fakes/k0s_worker.sh` (status, version, token create,
 * airgap list-images), logging its calls; the CLI runs as a subprocess in the temp dir.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliResult, runCli } from "./cli.ts";

/** The fake k0s binary. */
export const FAKE_K0S = fileURLToPath(new URL("../fakes/k0s_worker.sh", import.meta.url));

/** Options of {@link fakeController}. */
export interface FakeControllerOptions {
  /** Prefix of the temp dir. */
  prefix: string;
  /** False: k0s is installed but not running. */
  running?: boolean;
  /** What `k0s status` reports; default `controller+worker`. */
  role?: string;
  /** What `k0s version` reports; default the fake's. */
  version?: string;
}

/** A fake controller host; removed on dispose. */
export interface FakeController extends AsyncDisposable {
  /** The temp dir (also the CLI's working directory). */
  base: string;
  /** The controller's `K0RDENTD_ROOT`. */
  root: string;
  /** Environment of the CLI subprocess. */
  env: Record<string, string>;
  /** Runs `main.ts args...` on this controller. */
  cli(...args: string[]): Promise<CliResult>;
  /** The fake k0s calls so far (argv after `k0s`). */
  k0sCalls(): Promise<string[]>;
}

/** Creates a temp controller with the fake k0s installed. */
export async function fakeController(options: FakeControllerOptions): Promise<FakeController> {
  const base = await Deno.makeTempDir({ prefix: options.prefix });
  const root = join(base, "controller");
  await Deno.mkdir(join(root, "usr/local/bin"), { recursive: true });
  await Deno.copyFile(FAKE_K0S, join(root, "usr/local/bin/k0s"));
  const log = join(base, "controller-k0s.log");
  const env: Record<string, string> = {
    K0RDENTD_ROOT: root,
    FAKE_K0S_LOG: log,
    FAKE_K0S_RUNNING: options.running === false ? "0" : "1",
    FAKE_K0S_ROLE: options.role ?? "controller+worker",
    ...(options.version ? { FAKE_K0S_VERSION: options.version } : {}),
  };
  return {
    base,
    root,
    env,
    cli: (...args: string[]) => runCli(args, { env, cwd: base }),
    async k0sCalls(): Promise<string[]> {
      return (await Deno.readTextFile(log).catch(() => "")).split("\n").filter(Boolean);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

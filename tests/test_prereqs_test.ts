/**
 * `deno task test` (tasks/test.sh and tasks/test_prereqs.sh) on a host without the test
 * packages: PATH is a temp dir with the few basics the scripts use and fake apt-get, systemctl and
 * deno (tests/fakes/), none of the listed commands. As root the step installs what is missing and
 * runs the suite; when apt-get cannot reach the mirror it says so in one line and still runs it;
 * without root (a real privilege drop) it prints the exact `sudo apt-get install` line and runs
 * nothing. The closing summary is checked against a real deno run of a small suite.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findOnPath } from "../src/process/find_on_path.ts";
import { ignoreIf, needsRoot, needsTools, readTestPackages } from "./helpers/tools.ts";

const TEST_SH = fileURLToPath(new URL("../tasks/test.sh", import.meta.url));
const PREREQS_SH = fileURLToPath(new URL("../tasks/test_prereqs.sh", import.meta.url));
const FAKES = fileURLToPath(new URL("./fakes", import.meta.url));
const IGNORED_SUITE = fileURLToPath(new URL("./fixtures/ignored_suite.ts", import.meta.url));
/** What the scripts and the fakes run besides the tools under test. */
const BASICS = ["sh", "id", "mktemp", "rm", "awk", "tee", "cat", "mkdir", "chmod"];

const PACKAGES = readTestPackages().filter((p) => !p.bench);
const PACKAGE_NAMES = PACKAGES.map((p) => p.name);
const isRoot = Deno.uid() === 0;
const SETPRIV = await findOnPath("setpriv");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A PATH dir holding the basics (and `extra` commands); a state dir for the fakes. */
async function host(options: { fakes?: string[]; stubs?: string[] } = {}) {
  const base = await Deno.makeTempDir({ prefix: "test-prereqs-" });
  const bin = join(base, "bin");
  const state = join(base, "state");
  await Deno.mkdir(bin);
  await Deno.mkdir(state);
  await Deno.chmod(base, 0o755); // readable after the privilege drop
  await Deno.chmod(state, 0o777); // a fake run as nobody can still record the call
  for (const name of BASICS) {
    const real = await findOnPath(name);
    assert.ok(real, `${name} is on PATH`);
    await Deno.symlink(real, join(bin, name));
  }
  for (const fake of options.fakes ?? []) await Deno.symlink(join(FAKES, fake), join(bin, fake));
  for (const stub of options.stubs ?? []) {
    await Deno.writeTextFile(join(bin, stub), "#!/bin/sh\n", { mode: 0o755 });
  }
  const env: Record<string, string> = {
    PATH: bin,
    HOME: base,
    FAKE_TOOLS_DIR: FAKES,
    FAKE_STATE: state,
    FAKE_APT_BIN: bin,
    FAKE_APT_PROVIDES: PACKAGES.map((p) => `${p.name}=${p.commands.join(",")}`).join(" "),
    DENO: join(FAKES, "deno"),
  };
  return {
    bin,
    state,
    env,
    async run(argv: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: { ...env, ...extraEnv },
        clearEnv: true,
        stdin: "null",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    },
    async calls(tool: string): Promise<string[]> {
      const log = await Deno.readTextFile(join(state, "calls.log")).catch(() => "");
      return log.split("\n").filter((l) => l.startsWith(`${tool} `));
    },
    [Symbol.asyncDispose]: () => Deno.remove(base, { recursive: true }),
  };
}

Deno.test(
  needsRoot(
    "deno task test as root installs the missing packages quietly, then runs the suite",
    "for apt-get to install",
  ),
  async () => {
    await using h = await host({ fakes: ["apt-get", "systemctl"] });
    await Deno.writeTextFile(join(h.state, "units"), "docker-registry enabled active\n");
    const r = await h.run(["/bin/sh", TEST_SH, "tests/x_test.ts", "--filter", "y"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(
      r.stdout,
      `Installed the test packages: ${PACKAGE_NAMES.join(" ")}\n` +
        "Disabled the docker-registry service that package docker-registry started " +
        "(the tests start their own)\n",
    );
    assert.deepEqual(await h.calls("apt-get"), [
      "apt-get -qq -o DPkg::Lock::Timeout=300 update",
      "apt-get -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 install " +
      PACKAGE_NAMES.join(" "),
    ]);
    assert.deepEqual(await h.calls("systemctl"), [
      "systemctl is-enabled --quiet docker-registry",
      "systemctl disable --now --quiet docker-registry",
      // prometheus (for promtool) starts no service here: checked, left alone.
      "systemctl is-enabled --quiet prometheus",
      "systemctl is-active --quiet prometheus",
    ]);
    assert.deepEqual(await h.calls("deno"), [
      "deno test --allow-all --parallel tests/x_test.ts --filter y",
    ]);

    // Everything is there now: the rerun checks the list, installs nothing and runs the suite.
    await Deno.writeTextFile(join(h.state, "deno-exit"), "1\n");
    const again = await h.run(["/bin/sh", TEST_SH]);
    assert.equal(again.code, 1, "the suite's exit status");
    assert.equal(again.stdout + again.stderr, "");
    assert.equal((await h.calls("apt-get")).length, 2);
    assert.equal((await h.calls("deno")).length, 2);
  },
);

Deno.test(
  needsRoot(
    "deno task test as root: an apt-get that cannot reach the mirror is one line naming the packages",
    "for apt-get to install",
  ),
  async () => {
    const missing = ["skopeo", "htpasswd"];
    const present = PACKAGES.flatMap((p) => p.commands).filter((c) => !missing.includes(c));
    await using h = await host({ fakes: ["apt-get"], stubs: present });
    await Deno.writeTextFile(join(h.state, "offline"), "");
    const r = await h.run(["/bin/sh", TEST_SH]);
    assert.equal(r.code, 0, "the suite's exit status");
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'Cannot install the test packages "skopeo apache2-utils" with apt-get (the tests that need ' +
        "them are ignored): Failed to fetch http://deb.debian.org/debian/pool/main/s/skopeo/" +
        "skopeo_1.0_amd64.deb  Temporary failure resolving 'deb.debian.org'\n",
    );
    assert.equal((await h.calls("deno")).length, 1, "the suite still runs");

    // No apt-get at all (not a Debian host): the same line with that reason.
    await Deno.remove(join(h.bin, "apt-get"));
    const none = await h.run(["/bin/sh", TEST_SH]);
    assert.equal(
      none.stderr,
      'Cannot install the test packages "skopeo apache2-utils" with apt-get (the tests that need ' +
        "them are ignored): apt-get not found\n",
    );
    assert.equal((await h.calls("deno")).length, 2);
  },
);

Deno.test(
  ignoreIf(
    "deno task test without root prints the exact sudo apt-get line and runs no test",
    isRoot && !SETPRIV ? "setpriv not installed (util-linux), needed to drop root" : undefined,
  ),
  async () => {
    await using h = await host({ fakes: ["apt-get"] });
    const drop = isRoot ? [SETPRIV!, "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const r = await h.run([...drop, "/bin/sh", TEST_SH, "tests/x_test.ts"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const commands = PACKAGES.flatMap((p) => p.commands).join(" ");
    assert.equal(
      r.stderr,
      `The tests need commands that are not installed ("${commands}"); install them with: ` +
        `sudo apt-get install -y ${PACKAGE_NAMES.join(" ")}\n`,
    );
    assert.deepEqual(await h.calls("deno"), []);
    assert.deepEqual(await h.calls("apt-get"), []);
  },
);

Deno.test("deno task test ends with how many tests were ignored and why", async () => {
  await using h = await host({ stubs: PACKAGES.flatMap((p) => p.commands) });
  const realDeno = {
    DENO: Deno.execPath(),
    // deno's own cache, so the small suite is not compiled from scratch
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
  };
  // deno's colored output, as on a terminal.
  const r = await h.run(["/bin/sh", TEST_SH, IGNORED_SUITE], realDeno);
  assert.equal(r.code, 0, r.stderr);
  const esc = String.fromCharCode(27);
  assert.ok(r.stdout.includes(`${esc}[`), "colored");
  assert.match(
    r.stdout.replace(new RegExp(`${esc}\\[[0-9;]*m`, "g"), ""),
    /^ok \| 1 passed \| 0 failed \| 4 ignored /m,
    "deno's own summary",
  );
  assert.ok(
    r.stdout.endsWith(
      "\nIgnored 4 tests:\n" +
        "  2  skopeo not installed\n" +
        "  1  needs root (to mount a tmpfs)\n" +
        "  1  no reason in the test name\n",
    ),
    r.stdout,
  );
  // Tests left out by --filter are not counted as ignored; a failure is deno's exit status.
  const filtered = await h.run(
    ["/bin/sh", TEST_SH, IGNORED_SUITE, "--filter", "skopeo"],
    { ...realDeno, NO_COLOR: "1" },
  );
  assert.equal(filtered.code, 0, filtered.stderr);
  assert.match(filtered.stdout, /^ok \| 0 passed \| 0 failed \| 2 ignored \| 3 filtered out /m);
  assert.ok(filtered.stdout.endsWith("\nIgnored 2 tests:\n  2  skopeo not installed\n"));
  const failing = await h.run(["/bin/sh", TEST_SH, join(h.bin, "..", "missing_test.ts")], realDeno);
  assert.equal(failing.code, 1);
});

Deno.test("test_prereqs.sh refuses an unknown argument with a usage line", async () => {
  await using h = await host();
  const r = await h.run(["/bin/sh", PREREQS_SH, "--frobnicate"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'Unknown argument "--frobnicate": usage: sh tasks/test_prereqs.sh [--bench]\n',
  );
});

Deno.test("needsTools() refuses a command tasks/test_packages.txt lists for tests only or not at all", async () => {
  for (const tool of ["wrk", "frobnicate"]) {
    await assert.rejects(
      needsTools("t", tool),
      new RegExp(`Test "t" needs "${tool}", which tasks/test_packages.txt does not list`),
    );
  }
});

Deno.test("needsTools() ignores a test whose commands are not all on PATH, naming them", async () => {
  await using h = await host({ stubs: ["skopeo"] });
  const path = Deno.env.get("PATH");
  Deno.env.set("PATH", h.bin);
  try {
    assert.deepEqual(await needsTools("t", "openssl", "skopeo", "pigz"), {
      name: "t (ignored: pigz, openssl not installed)", // in tasks/test_packages.txt order
      ignore: true,
    });
    assert.deepEqual(await needsTools("t", "skopeo"), { name: "t", ignore: false });
  } finally {
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
  }
});

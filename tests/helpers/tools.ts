/**
 * What a test needs from the host (a command from tasks/test_packages.txt, root, a setting): a test
 * that cannot run is ignored with the reason at the end of its name, "(ignored: <reason>)", which
 * `deno task test` counts in its closing summary.
 */
import { fileURLToPath } from "node:url";
import { findOnPath } from "../../src/process/find_on_path.ts";

/** The list of Debian packages the tests use (one file, also read by tasks/test_prereqs.sh). */
export const TEST_PACKAGES_FILE = fileURLToPath(
  new URL("../../tasks/test_packages.txt", import.meta.url),
);

/** One line of {@link TEST_PACKAGES_FILE}. */
export interface TestPackage {
  /** Debian package name. */
  name: string;
  /** The commands it provides; all on PATH means it is installed. */
  commands: string[];
  /** Only the benchmarks use it. */
  bench: boolean;
  /** The system service its installation starts, which the step disables. */
  service?: string;
}

/** Reads {@link TEST_PACKAGES_FILE}: `<package> <cmd,cmd> [bench] [service=NAME]  # comment`. */
export function readTestPackages(text = Deno.readTextFileSync(TEST_PACKAGES_FILE)): TestPackage[] {
  const out: TestPackage[] = [];
  for (const line of text.split("\n")) {
    const fields = line.replace(/#.*/, "").trim().split(/\s+/).filter((f) => f !== "");
    if (fields.length === 0) continue;
    const [name, commands, ...flags] = fields;
    if (commands === undefined) throw new Error(`Cannot read "${line}": no commands`);
    const service = flags.find((f) => f.startsWith("service="))?.slice("service=".length);
    out.push({ name, commands: commands.split(","), bench: flags.includes("bench"), service });
  }
  return out;
}

/** Commands the tests may need, in list order: those of the non-bench packages. */
const LISTED = readTestPackages().filter((p) => !p.bench).flatMap((p) => p.commands);

/** The `name` and `ignore` fields of a `Deno.test` definition. */
export interface TestGate {
  name: string;
  ignore: boolean;
}

/** Ignores the test when `reason` is given, and says why at the end of its name. */
export function ignoreIf(name: string, reason: string | undefined): TestGate {
  return reason === undefined
    ? { name, ignore: false }
    : { name: `${name} (ignored: ${reason})`, ignore: true };
}

/**
 * Ignores the test unless every command in `tools` is on PATH, e.g.
 * `Deno.test(await needsTools("skopeo pulls it", "skopeo"), async () => {...})`.
 * Throws for a command that tasks/test_packages.txt does not list (so `deno task test` installs
 * what every test needs).
 */
export async function needsTools(name: string, ...tools: string[]): Promise<TestGate> {
  const missing = [];
  for (const tool of tools) {
    if (!LISTED.includes(tool)) {
      throw new Error(
        `Test "${name}" needs "${tool}", which tasks/test_packages.txt does not list: add the ` +
          "Debian package that provides it",
      );
    }
    if (await findOnPath(tool) === null) missing.push(tool);
  }
  // In list order, so that the summary counts tests lacking the same tools under one reason.
  missing.sort((a, b) => LISTED.indexOf(a) - LISTED.indexOf(b));
  return ignoreIf(name, missing.length ? `${missing.join(", ")} not installed` : undefined);
}

/** Ignores the test unless it runs as root; `why` says what root is needed for. */
export function needsRoot(name: string, why: string): TestGate {
  return ignoreIf(name, Deno.uid() === 0 ? undefined : `needs root ${why}`);
}

/** Root (a private containerd) and containerd's two commands, or the test is ignored. */
export async function needsContainerd(name: string): Promise<TestGate> {
  const root = needsRoot(name, "to run a private containerd");
  return root.ignore ? root : await needsTools(name, "containerd", "ctr");
}

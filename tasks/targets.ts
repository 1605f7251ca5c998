/** Release targets: the Rust-style triples `deno compile --target` takes, their arch names and ELF machine ids. */
import { errorMessage, UsageError, UserError } from "../src/errors.ts";
import type { ReleaseArch } from "../src/releases/pins.ts";

/** What a target means for the build. */
export interface Target {
  /** Triple passed to `deno compile --target`. */
  triple: string;
  /** Arch name in k0s/helm downloads and artifact names. */
  arch: ReleaseArch;
  /** `e_machine` of an ELF executable for this target (checked on `DENORT_BIN`). */
  elfMachine: number;
}

/** The supported targets. */
export const TARGETS: readonly Target[] = [
  { triple: "x86_64-unknown-linux-gnu", arch: "amd64", elfMachine: 0x3e },
  { triple: "aarch64-unknown-linux-gnu", arch: "arm64", elfMachine: 0xb7 },
];

/** The target of the machine running the build. */
export function hostTarget(): Target {
  const triple = `${Deno.build.arch}-unknown-linux-gnu`;
  return TARGETS.find((t) => t.triple === triple) ?? TARGETS[0];
}

/** Resolves `--target`; default the host's. Throws a {@link UsageError} for anything else. */
export function parseTarget(value: string | undefined): Target {
  if (value === undefined) return hostTarget();
  const target = TARGETS.find((t) => t.triple === value);
  if (!target) {
    throw new UsageError(
      `Unsupported target "${value}": use ${TARGETS.map((t) => t.triple).join(" or ")}`,
    );
  }
  return target;
}

/**
 * The target an executable is built for, from its ELF header: a {@link Target},
 * `"unknown ELF machine 0x.."`, or `undefined` when the file is not ELF (e.g. a script).
 * Throws a {@link UserError} naming `what` when the file cannot be read.
 */
export async function executableTarget(
  path: string,
  what: string,
): Promise<Target | string | undefined> {
  const header = new Uint8Array(20);
  let length: number;
  try {
    const file = await Deno.open(path);
    try {
      length = (await file.read(header)) ?? 0;
    } finally {
      file.close();
    }
  } catch (err) {
    throw new UserError(`Cannot read ${what} "${path}": ${errorMessage(err)}`);
  }
  const elf = length === 20 && header[0] === 0x7f && header[1] === 0x45 && header[2] === 0x4c &&
    header[3] === 0x46;
  if (!elf) return undefined;
  const machine = header[18] | (header[19] << 8);
  return TARGETS.find((t) => t.elfMachine === machine) ??
    `unknown ELF machine 0x${machine.toString(16)}`;
}

/** Names what {@link executableTarget} found. */
export function describeTarget(found: Target | string | undefined): string {
  if (found === undefined) return "not an ELF executable";
  return typeof found === "string" ? found : found.triple;
}

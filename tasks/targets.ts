/** Release targets: the Rust-style triples `deno compile --target` takes, their arch names and ELF machine ids. */
import { UsageError } from "../src/errors.ts";

/** What a target means for the build. */
export interface Target {
  /** Triple passed to `deno compile --target`. */
  triple: string;
  /** Arch name in k0s/helm downloads and artifact names. */
  arch: "amd64" | "arm64";
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

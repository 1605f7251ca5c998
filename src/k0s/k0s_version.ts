/**
 * k0s versions (`v1.32.8+k0s.0`) and kubelet versions of k0s nodes (`v1.32.8+k0s`): parsing,
 * ordering, and the upgrade rule k0s documents. The Kubernetes part orders as SemVer (npm
 * `semver`, which ignores build metadata); the `k0s.N` build number then orders releases of the
 * same Kubernetes version (`v1.32.8+k0s.1` follows `v1.32.8+k0s.0`).
 *
 * The rule, from github.com/k0sproject/k0s `docs/version-skew-policy.md` (which follows the
 * Kubernetes version skew policy): upgrade one minor at a time (v1.30 → v1.31, not v1.30 →
 * v1.32); downgrades are not supported. The kubelet of a k0s node reports `v<kubernetes>+k0s`
 * (`embedded-bins/kubernetes/Dockerfile`: `KUBE_GIT_VERSION="v$VERSION+k0s"`), without the build
 * number.
 */
import semver from "semver";
import { UserError } from "../errors.ts";

/** A parsed k0s (or k0s kubelet) version. */
export interface K0sVersion {
  /** As given, e.g. `v1.32.8+k0s.0`. */
  raw: string;
  /** The Kubernetes version with any pre-release, e.g. `1.32.8` or `1.33.0-rc.0`. */
  kubernetes: string;
  major: number;
  minor: number;
  /** The `k0s.N` build number; null when the text has none (a kubelet version). */
  build: number | null;
}

/** Parses `v1.32.8+k0s.0`, `v1.33.0-rc.0+k0s.0` or a kubelet's `v1.32.8+k0s`; null otherwise. */
export function parseK0sVersion(text: string): K0sVersion | null {
  const raw = text.trim();
  const m = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)(?:\+k0s(?:\.(\d+))?)?$/.exec(raw);
  if (!m) return null;
  const parsed = semver.parse(m[1]);
  if (!parsed) return null;
  return {
    raw,
    kubernetes: parsed.version,
    major: parsed.major,
    minor: parsed.minor,
    build: m[2] === undefined ? null : Number(m[2]),
  };
}

/** Parses or throws a UserError naming `what` (e.g. `the installed k0s`). */
export function requireK0sVersion(text: string, what: string): K0sVersion {
  const v = parseK0sVersion(text);
  if (!v) {
    throw new UserError(
      `Cannot read the version of ${what}: "${text}" is not a k0s version such as v1.32.8+k0s.0`,
    );
  }
  return v;
}

/**
 * Orders two versions: negative when `a` is older. A version without a build number (a kubelet's)
 * equals every build of its Kubernetes version.
 */
export function compareK0sVersions(a: K0sVersion, b: K0sVersion): number {
  const byKubernetes = semver.compare(a.kubernetes, b.kubernetes);
  if (byKubernetes !== 0 || a.build === null || b.build === null) return byKubernetes;
  return a.build - b.build;
}

/** What moving the cluster from `current` to `target` is. */
export type K0sChange = "upgrade" | "same" | "downgrade";

/**
 * Classifies the move from `current` to `target` and applies k0s's rule: a step of more than one
 * minor version (or to another major) is refused, as a downgrade is unless `allowDowngrade`.
 */
export function k0sChange(
  current: K0sVersion,
  target: K0sVersion,
  allowDowngrade: boolean,
): K0sChange {
  const order = compareK0sVersions(current, target);
  if (order === 0) return "same";
  if (order > 0) {
    if (!allowDowngrade) {
      throw new UserError(
        `Refusing to downgrade k0s from ${current.raw} to ${target.raw}: k0s does not support ` +
          "downgrades (restore a backup instead), or rerun with --allow-downgrade",
      );
    }
    return "downgrade";
  }
  if (target.major !== current.major || target.minor > current.minor + 1) {
    throw new UserError(
      `Refusing to upgrade k0s from ${current.raw} to ${target.raw}: k0s upgrades one minor ` +
        `version at a time (to v${current.major}.${current.minor + 1}.x first)`,
    );
  }
  return "upgrade";
}

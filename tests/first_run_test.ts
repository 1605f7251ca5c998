/**
 * A clean clone's `npm ci` prints no warning about install scripts (README, "The two commands"):
 * npm finds every install script of the dependencies reviewed in package.json's `allowScripts`.
 * deno's side (no "Ignored build scripts" box for the `deno` package, which deno.json's
 * `allowScripts` denies) shows where deno sets the package up anew: tests/build_offline_test.ts,
 * whose `deno compile` in a fresh cache must print nothing but its one error line.
 */
import assert from "node:assert/strict";
import { PROJECT_ROOT } from "../tasks/build_flavor.ts";
import { ignoreIf } from "./helpers/tools.ts";

const decoder = new TextDecoder();

/** npm's version when npm is on PATH. */
async function npmVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("npm", { args: ["--version"], stdout: "piped" }).output();
    return out.success ? decoder.decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

const npm = await npmVersion();
const [major, minor] = (npm ?? "0.0").split(".").map(Number);
// `allowScripts` and `npm install-scripts` came with npm 11.16.
const npmReason = !npm
  ? "npm not installed"
  : major < 11 || (major === 11 && minor < 16)
  ? `npm ${npm} predates allowScripts (11.16)`
  : undefined;

Deno.test(
  ignoreIf("npm finds no dependency install script left unreviewed by allowScripts", npmReason),
  async () => {
    const out = await new Deno.Command("npm", {
      args: ["install-scripts", "ls"],
      cwd: PROJECT_ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = decoder.decode(out.stdout) + decoder.decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /^No packages with unreviewed install scripts\.$/m);
  },
);

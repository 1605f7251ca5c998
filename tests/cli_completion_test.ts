/**
 * `k0rdentd completion bash|zsh|fish`: the scripts parse in their shell and complete commands,
 * subcommands, flags and flag values from the program definition.
 */
import assert from "node:assert/strict";
import { buildProgram } from "../src/cli/program.ts";
import { runCli } from "./helpers/cli.ts";
import { needsTools } from "./helpers/tools.ts";

async function script(shell: string): Promise<string> {
  const r = await runCli(["completion", shell]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Runs `shell -c code` with the script saved in a temp file as $1, in a dir with a file and a dir. */
async function run(shell: string, text: string, code: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "k0rdentd-completion-" });
  await Deno.writeTextFile(`${dir}/script`, text);
  await Deno.writeTextFile(`${dir}/bundle.tar.zst`, "");
  await Deno.mkdir(`${dir}/store`);
  const out = await new Deno.Command(shell, {
    args: ["-c", code, "script", `${dir}/script`],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}

/** Completions of `line` (words; the last one is being typed), one result line per case. */
const CASES: [string, string][] = [
  ["k0rdentd reg", "registry"],
  ["k0rdentd install --air", "--airgap --airgap-bundle-path"],
  ["k0rdentd --log-format ''", "text json"],
  ["k0rdentd config --log-level d", "debug"],
  ["k0rdentd -c k.yaml conf", "config"],
  ["k0rdentd config ''", "init show validate help"],
  ["k0rdentd bundle load --importer ''", "native skopeo"],
  ["k0rdentd registry --storage s", "store"],
  ["k0rdentd registry --storage store st", "status"],
  ["k0rdentd registry add-k0s-binary bun", "bundle.tar.zst"],
  ["k0rdentd help exp", "export-join-config export-worker-artifacts expose-ui"],
  ["k0rdentd completion ''", "bash zsh fish"],
];

Deno.test("completion bash: bash -n accepts it; it completes commands, flags and values", async () => {
  const text = await script("bash");
  await run("bash", text, 'bash -n "$1"');
  const code = [
    'source "$1"',
    ...CASES.map(([line]) =>
      `COMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _k0rdentd; ` +
      'echo "${COMPREPLY[*]}"'
    ),
  ].join("\n");
  const lines = (await run("bash", text, code)).split("\n");
  CASES.forEach(([line, want], i) => assert.equal(lines[i], want, line));
});

Deno.test("completion bash: every command and flag of the program is offered", async () => {
  const text = await script("bash");
  const program = buildProgram();
  const cases: [string, string[]][] = [];
  const globals = program.options.map((o) => o.long!);
  const walk = (cmd: typeof program, words: string[]) => {
    cases.push([`k0rdentd ${words.join(" ")} ''`, cmd.commands.map((c) => c.name())]);
    const flags = cmd.options.filter((o) => !o.hidden).map((o) => o.long!);
    cases.push([`k0rdentd ${words.join(" ")} --`, [...flags, ...globals]]);
    for (const sub of cmd.commands) walk(sub, [...words, sub.name()]);
  };
  walk(program, []);
  const code = [
    'source "$1"',
    ...cases.map(([line]) =>
      `COMP_WORDS=(${line}); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); _k0rdentd; ` +
      'echo "${COMPREPLY[*]}"'
    ),
  ].join("\n");
  const lines = (await run("bash", text, code)).split("\n");
  assert.ok(cases.length > 40, "walked the whole program");
  cases.forEach(([line, want], i) => {
    const got = new Set(lines[i].split(" "));
    for (const word of want) assert.ok(got.has(word), `${line}: missing ${word} in "${lines[i]}"`);
  });
});

Deno.test(await needsTools("completion zsh: zsh -n accepts it; it completes", "zsh"), async () => {
  const text = await script("zsh");
  await run("zsh", text, 'zsh -n "$1"');
  // compsys is interactive; stand-ins print what the script hands to it.
  const stubs = [
    "compdef() { :; }",
    '_describe() { local -a arr; arr=("${(@P)4}"); print -r -- "${arr[@]%%:*}"; }',
    'compadd() { shift; print -r -- "$@"; }',
    '_files() { print -r -- "_files $*"; }',
  ];
  const code = [
    ...stubs,
    'source "$1"',
    "words=(k0rdentd install --air); CURRENT=3; PREFIX=--air; _k0rdentd",
    "words=(k0rdentd --log-format ''); CURRENT=3; PREFIX=''; _k0rdentd",
    "words=(k0rdentd registry --storage ''); CURRENT=4; PREFIX=''; _k0rdentd",
    "words=(k0rdentd config ''); CURRENT=3; PREFIX=''; _k0rdentd",
  ].join("\n");
  const lines = (await run("zsh", text, code)).trim().split("\n");
  assert.ok(lines[0].split(" ").includes("--airgap-bundle-path"), lines[0]);
  assert.deepEqual(lines.slice(1), ["text json", "_files -/", "init show validate help"]);
});

Deno.test(
  await needsTools("completion fish: fish -n accepts it; it completes", "fish"),
  async () => {
    const text = await script("fish");
    await run("fish", text, "fish -n $argv[1]");
    const cases: [string, string[]][] = [
      ["k0rdentd reg", ["registry"]],
      ["k0rdentd install --air", ["--airgap", "--airgap-bundle-path"]],
      ["k0rdentd --log-format ", ["json", "text"]],
      ["k0rdentd completion ", ["bash", "fish", "zsh"]],
    ];
    const code = [
      "source $argv[1]",
      ...cases.map(([line]) => `complete -C '${line}' | string split -f1 \\t | string join ' '`),
    ].join("\n");
    const lines = (await run("fish", text, code)).split("\n");
    cases.forEach(([line, want], i) => assert.deepEqual(lines[i].split(" ").sort(), want, line));
  },
);

Deno.test("completion with an unknown shell is a usage error naming it", async () => {
  const r = await runCli(["completion", "ksh"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /'ksh' is invalid .*Allowed choices are bash, zsh, fish/);
});

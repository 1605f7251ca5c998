/**
 * Shell completion scripts (bash, zsh, fish) generated from the commander program: every
 * command, subcommand and flag, with the values of choice flags and files for path flags.
 * Each script walks the words typed so far with the same rules as commander: global flags are
 * valid after any subcommand, a flag with `<value>` eats the next word, one with `[value]` only
 * when that word does not start with `-`.
 */
import type { Command, Option } from "commander";

/** Shells {@link completionScript} writes for. */
export const COMPLETION_SHELLS = ["bash", "zsh", "fish"] as const;
/** One of {@link COMPLETION_SHELLS}. */
export type CompletionShell = typeof COMPLETION_SHELLS[number];

/** What a flag's value completes to: nothing, files, directories, any word, or fixed choices. */
type ValueKind = "file" | "dir" | "any" | { choices: readonly string[] };

interface FlagSpec {
  names: string[];
  description: string;
  /** Undefined: a switch without a value. */
  value?: ValueKind;
  /** `[value]`: the next word is the value only when it does not start with `-`. */
  optional: boolean;
}

interface CommandSpec {
  /** Words from the program name down, e.g. `["k0rdentd", "config", "show"]`. */
  path: string[];
  commands: { name: string; description: string }[];
  /** Own flags, then the program's global flags. */
  flags: FlagSpec[];
  /** What its positional arguments complete to (choices, else files); undefined: none. */
  args?: ValueKind;
}

/** Argument names in flags (`<path>`, `[file]`) that mean a file or directory. */
const FILE_ARGS = /^(path|file|file\.tar\.gz|bundle)$/;
const DIR_ARGS = /^dir$/;

function valueKind(arg: string, choices: readonly string[] | undefined): ValueKind {
  if (choices) return { choices };
  if (FILE_ARGS.test(arg)) return "file";
  if (DIR_ARGS.test(arg)) return "dir";
  return "any";
}

function flagSpec(option: Option): FlagSpec {
  const names = [option.short, option.long].filter((n): n is string => Boolean(n));
  const arg = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    names,
    description: option.description,
    value: arg === undefined ? undefined : valueKind(arg, option.argChoices),
    optional: option.optional,
  };
}

/** Every command of `program` with its subcommands and flags, as `--help` shows them. */
function commandSpecs(program: Command): CommandSpec[] {
  const help = program.createHelp();
  const globals = help.visibleOptions(program).filter((o) => o.long !== "--help").map(flagSpec);
  const out: CommandSpec[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const subcommands = help.visibleCommands(cmd);
    const first = cmd.registeredArguments[0];
    const spec: CommandSpec = {
      path,
      commands: subcommands.flatMap((c) =>
        [c.name(), ...c.aliases()].map((name) => ({
          name,
          description: c.summary() || c.description().split("\n")[0],
        }))
      ),
      flags: cmd === program
        ? help.visibleOptions(cmd).map(flagSpec)
        : [...help.visibleOptions(cmd).map(flagSpec), ...globals],
      args: first ? valueKind("file", first.argChoices) : undefined,
    };
    out.push(spec);
    for (const sub of subcommands) {
      if (isHelpCommand(sub)) {
        // `help [command]` completes the commands it can explain.
        const siblings = spec.commands.filter((c) => c.name !== sub.name());
        out.push({ path: [...path, sub.name()], commands: siblings, flags: globals });
      } else walk(sub, [...path, sub.name()]);
    }
  };
  walk(program, [program.name()]);
  return out;
}

/** Commander's implicit `help [command]`. */
function isHelpCommand(cmd: Command): boolean {
  return cmd.name() === "help" && cmd.registeredArguments[0]?.name() === "command";
}

/** Single-quotes a word for bash and zsh. */
function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/** Single-quotes a word for fish. */
function fishQuote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}

/** A value kind as the scripts spell it: file, dir, any or `choices:a b`; `?` first: optional. */
function kindWord(kind: ValueKind | undefined, optional = false): string {
  if (kind === undefined) return "";
  const word = typeof kind === "string" ? kind : `choices:${kind.choices.join(" ")}`;
  return optional ? `?${word}` : word;
}

/** Flags taking a value, with `case` patterns `path|flag`; the program's (global) ones match any path. */
function valuedFlags(specs: CommandSpec[]): { patterns: string[]; kind: string }[] {
  const globals = new Set(specs[0].flags.flatMap((f) => f.names));
  const out: { patterns: string[]; kind: string }[] = [];
  for (const spec of specs) {
    const root = spec.path.length === 1;
    for (const flag of spec.flags) {
      const own = flag.names.filter((n) => root || !globals.has(n));
      if (!flag.value || !own.length) continue;
      out.push({
        patterns: own.map((n) => `${root ? "*" : spec.path.join(" ")}|${n}`),
        kind: kindWord(flag.value, flag.optional),
      });
    }
  }
  return out;
}

/** The `_value` function of bash and zsh: prints the kind of value `$1|$2` takes. */
function shValueFunction(fn: string, specs: CommandSpec[]): string {
  const arms = valuedFlags(specs).map(({ patterns, kind }) =>
    `    ${
      patterns.map((p) => p.startsWith("*") ? `*${shQuote(p.slice(1))}` : shQuote(p)).join("|")
    }) echo ${shQuote(kind)} ;;`
  );
  return `${fn}_value() {\n  case "$1|$2" in\n${arms.join("\n")}\n  esac\n}`;
}

/** The shell function name for `name`. */
function functionName(prefix: string, name: string): string {
  return prefix + name.replace(/[^A-Za-z0-9_]/g, "_");
}

function bashScript(specs: CommandSpec[]): string {
  const name = specs[0].path[0];
  const fn = functionName("_", name);
  const specArms = specs.map((s) =>
    `    ${shQuote(s.path.join(" "))}) cmds=${shQuote(s.commands.map((c) => c.name).join(" "))}; ` +
    `flags=${shQuote(s.flags.flatMap((f) => f.names).join(" "))}; args=${
      shQuote(kindWord(s.args))
    } ;;`
  );
  return `# bash completion for ${name}, generated by \`${name} completion bash\`.
# Load it with: source <(${name} completion bash)
# or install it: ${name} completion bash > /etc/bash_completion.d/${name}

${fn}_spec() {
  cmds='' flags='' args=''
  case "$1" in
${specArms.join("\n")}
  esac
}

${shValueFunction(fn, specs)}

${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmdpath=${shQuote(name)} kind='' word i cmds flags args
  for (( i = 1; i < COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    if [[ -n $kind ]]; then
      if [[ $kind != \\?* || $word != -* ]]; then kind=''; continue; fi
      kind=''
    fi
    if [[ $word == -* ]]; then
      [[ $word == *=* ]] || kind="$(${fn}_value "$cmdpath" "$word")"
    else
      ${fn}_spec "$cmdpath"
      [[ " $cmds " == *" $word "* ]] && cmdpath="$cmdpath $word"
    fi
  done
  COMPREPLY=()
  ${fn}_spec "$cmdpath"
  if [[ -z $kind || ( $kind == \\?* && $cur == -* ) ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
      return 0
    elif [[ -n $cmds ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$cmds" -- "$cur")
      return 0
    fi
    kind="$args"
  fi
  kind="\${kind#\\?}"
  case "$kind" in
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    choices:*) mapfile -t COMPREPLY < <(compgen -W "\${kind#choices:}" -- "$cur") ;;
  esac
  return 0
}

complete -F ${fn} ${name}
`;
}

function zshScript(specs: CommandSpec[]): string {
  const name = specs[0].path[0];
  const fn = functionName("_", name);
  // _describe entries are `word:description`; no command or flag name holds a colon.
  const entry = (word: string, description: string) => shQuote(`${word}:${description}`);
  const specArms = specs.map((s) =>
    [
      `    ${shQuote(s.path.join(" "))})`,
      `      cmds=(${s.commands.map((c) => entry(c.name, c.description)).join(" ")})`,
      `      flags=(${
        s.flags.flatMap((f) => f.names.map((n) => entry(n, f.description))).join(" ")
      })`,
      `      args=${shQuote(kindWord(s.args))} ;;`,
    ].join("\n")
  );
  return `#compdef ${name}
# zsh completion for ${name}, generated by \`${name} completion zsh\`.
# Load it with: source <(${name} completion zsh)   (after compinit)
# or install it as _${name} in a directory of $fpath.

${fn}_spec() {
  cmds=() flags=() args=''
  case "$1" in
${specArms.join("\n")}
  esac
}

${shValueFunction(fn, specs)}

${fn}() {
  local cmdpath=${shQuote(name)} kind='' word e i args
  local -a cmds flags
  for (( i = 2; i < CURRENT; i++ )); do
    word="\${words[i]}"
    if [[ -n $kind ]]; then
      if [[ $kind != \\?* || $word != -* ]]; then kind=''; continue; fi
      kind=''
    fi
    if [[ $word == -* ]]; then
      [[ $word == *=* ]] || kind="$(${fn}_value "$cmdpath" "$word")"
    else
      ${fn}_spec "$cmdpath"
      for e in "\${cmds[@]}"; do
        if [[ "\${e%%:*}" == "$word" ]]; then cmdpath="$cmdpath $word"; break; fi
      done
    fi
  done
  ${fn}_spec "$cmdpath"
  if [[ -z $kind || ( $kind == \\?* && $PREFIX == -* ) ]]; then
    if [[ $PREFIX == -* ]]; then
      _describe -t options 'option' flags
      return
    elif (( \${#cmds} )); then
      _describe -t commands 'command' cmds
      return
    fi
    kind="$args"
  fi
  kind="\${kind#\\?}"
  case "$kind" in
    file) _files ;;
    dir) _files -/ ;;
    choices:*) compadd -- \${=kind#choices:} ;;
    any) _message 'value' ;;
  esac
}

compdef ${fn} ${name}
# Sourced, the compdef above registers it; autoloaded from $fpath, this file is the function.
if [[ "\${funcstack[1]}" == "${fn}" ]]; then
  ${fn} "$@"
fi
`;
}

function fishScript(specs: CommandSpec[]): string {
  const name = specs[0].path[0];
  const fn = functionName("__", name);
  const specArms = specs.map((s) => {
    const lines = [
      ...s.commands.map((c) => `c\t${c.name}\t${c.description}`),
      ...s.flags.flatMap((f) => f.names.map((n) => `f\t${n}\t${f.description}`)),
      ...(s.args ? [`a\t${kindWord(s.args)}`] : []),
    ];
    return `        case ${fishQuote(s.path.join(" "))}\n            printf '%s\\n' ${
      lines.map(fishQuote).join(" ")
    }`;
  });
  const valueArms = valuedFlags(specs).map(({ patterns, kind }) =>
    `        case ${patterns.map(fishQuote).join(" ")}\n            echo ${fishQuote(kind)}`
  );
  return `# fish completion for ${name}, generated by \`${name} completion fish\`.
# Load it with: ${name} completion fish | source
# or install it: ${name} completion fish > ~/.config/fish/completions/${name}.fish

# One line per candidate of a command: c<TAB>command<TAB>description, f<TAB>flag<TAB>description,
# and a<TAB>kind for its arguments.
function ${fn}_spec --argument-names path
    switch $path
${specArms.join("\n")}
    end
end

# The kind of value a flag takes: file, dir, any or choices:a b; a leading ? means optional.
function ${fn}_value --argument-names path flag
    switch "$path|$flag"
${valueArms.join("\n")}
    end
end

function ${fn}_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l cmdpath ${fishQuote(name)}
    set -l kind ''
    for word in $tokens[2..-1]
        if test -n "$kind"
            if not string match -qr -- '^[?]' $kind; or not string match -q -- '-*' $word
                set kind ''
                continue
            end
            set kind ''
        end
        if string match -q -- '-*' $word
            string match -q -- '*=*' $word; or set kind (${fn}_value "$cmdpath" $word)
        else if ${fn}_spec "$cmdpath" | string match -q -- "c\t$word\t*"
            set cmdpath "$cmdpath $word"
        end
    end
    set -l spec (${fn}_spec "$cmdpath")
    if test -z "$kind"; or begin; string match -qr -- '^[?]' $kind; and string match -q -- '-*' $cur; end
        if string match -q -- '-*' $cur
            string replace -rf -- '^f\t' '' $spec
            return
        else if string match -qr -- '^c\t' $spec
            string replace -rf -- '^c\t' '' $spec
            return
        end
        set kind (string replace -rf -- '^a\t' '' $spec)
    end
    set kind (string replace -r -- '^[?]' '' "$kind")
    switch "$kind"
        case file
            __fish_complete_path $cur
        case dir
            __fish_complete_directories $cur
        case 'choices:*'
            string split ' ' -- (string replace 'choices:' '' -- $kind)
    end
end

complete -c ${name} -f -a '(${fn}_complete)'
`;
}

/** The completion script of `program` for `shell`. */
export function completionScript(program: Command, shell: CompletionShell): string {
  const specs = commandSpecs(program);
  if (shell === "bash") return bashScript(specs);
  if (shell === "zsh") return zshScript(specs);
  return fishScript(specs);
}

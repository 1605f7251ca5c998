/** `k0rdentd completion bash|zsh|fish`: prints a shell completion script built from the program. */
import { Argument, type Command } from "commander";
import { printOut } from "../../log/output.ts";
import { COMPLETION_SHELLS, completionScript, type CompletionShell } from "../completion.ts";

const EXAMPLES = `
Examples:
  source <(k0rdentd completion bash)
  k0rdentd completion bash > /etc/bash_completion.d/k0rdentd
  k0rdentd completion zsh > "\${fpath[1]}/_k0rdentd"
  k0rdentd completion fish > ~/.config/fish/completions/k0rdentd.fish`;

/** Registers `completion`. */
export function registerCompletion(program: Command): void {
  program.command("completion")
    .description("Print a shell completion script for every command and flag")
    .addArgument(new Argument("<shell>", "the shell").choices(COMPLETION_SHELLS))
    .addHelpText("after", EXAMPLES)
    .action((shell: CompletionShell) => {
      printOut(completionScript(program, shell));
    });
}

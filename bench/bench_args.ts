/**
 * Command-line arguments of the benchmark scripts: `--help` prints the script's own opening doc
 * comment (its description and usage); an unknown or malformed option is one line on stderr and
 * exit 2, not a stack trace.
 */
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** The opening `/** ... *\/` comment of the script at `scriptUrl`, as plain text. */
function usageOf(scriptUrl: string): string {
  const text = Deno.readTextFileSync(fileURLToPath(scriptUrl));
  const doc = /^\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? "";
  return doc.split("\n").map((line) => line.replace(/^\s*\* ?/, "")).join("\n").trim();
}

/** Prints the script's usage and exits 0 when `args` ask for help. */
export function exitOnHelp(scriptUrl: string, args: string[] = Deno.args): void {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usageOf(scriptUrl));
    Deno.exit(0);
  }
}

/** `args` parsed against `options` (after {@link exitOnHelp}); a bad option exits 2. */
export function benchArgs<const O extends ParseArgsOptionsConfig>(
  scriptUrl: string,
  options: O,
  args: string[] = Deno.args,
): ReturnType<typeof parseArgs<{ args: string[]; options: O }>>["values"] {
  exitOnHelp(scriptUrl, args);
  try {
    return parseArgs({ args, options }).values;
  } catch (err) {
    usageError(scriptUrl, err instanceof Error ? err.message : String(err));
  }
}

/** Ends the script with `message` and a pointer to its `--help`: exit 2. */
export function usageError(scriptUrl: string, message: string): never {
  console.error(`error: ${message}`);
  console.error(`(see: deno run -A ${fileURLToPath(scriptUrl)} --help)`);
  Deno.exit(2);
}

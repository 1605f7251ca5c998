/**
 * The argv systemd runs for a unit's `ExecStart=` line, for tests that run it: words split on
 * whitespace, a double-quoted word keeps its spaces and takes C-style `\\` and `\"` escapes,
 * `%%` is a literal `%` and `$$` a literal `$` (systemd.service(5), "Command lines"; systemd
 * `src/core/load-fragment.c` `config_parse_exec` with `extract_first_word(..., EXTRACT_UNQUOTE |
 * EXTRACT_CUNESCAPE)`, then `unit_full_printf` for specifiers). Anything this helper cannot
 * read the way systemd does (another specifier, `${VAR}`, single quotes, `;`) is an error, so a
 * unit that relies on it fails the test instead of being read wrongly.
 */

/** The argv of the `ExecStart=` line of `unit`. */
export function execStartArgv(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  if (!line) throw new Error("The unit has no ExecStart= line");
  const text = line.slice("ExecStart=".length);
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i])) {
      i++;
      continue;
    }
    let word = "";
    if (text[i] === '"') {
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") {
          const next = text[i + 1];
          if (next !== "\\" && next !== '"') {
            throw new Error(`Unexpected escape \\${next} in ${line}`);
          }
          word += next;
          i += 2;
        } else {
          word += text[i++];
        }
      }
      if (text[i] !== '"') throw new Error(`Unterminated quote in ${line}`);
      i++;
    } else {
      while (i < text.length && !/\s/.test(text[i])) {
        if ("'\\;".includes(text[i])) throw new Error(`Unexpected "${text[i]}" in ${line}`);
        word += text[i++];
      }
    }
    words.push(unescape(word, line));
  }
  return words;
}

/** `%%` → `%`, `$$` → `$`; any other specifier or variable is refused. */
function unescape(word: string, line: string): string {
  return word.replace(/%(.)|\$(.?)/g, (match, spec, after) => {
    if (spec === "%") return "%";
    if (after === "$") return "$";
    throw new Error(`Specifier or variable "${match}" in ${line}`);
  });
}

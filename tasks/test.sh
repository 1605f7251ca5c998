#!/bin/sh
# `deno task test`: makes sure the test packages are there (tasks/test_prereqs.sh), runs the whole
# suite with deno's own output (extra arguments go to `deno test`), then says how many tests were
# ignored and why, from the "(ignored: <reason>)" at the end of their names (tests/helpers/tools.ts).
#
# Usage: sh tasks/test.sh [deno test arguments...]
# DENO names the deno program (default: node_modules/.bin/deno, the pinned npm package).
# Exit status: deno's; 1 when packages are missing and this is not root (no test ran).
set -eu

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
deno=${DENO:-$here/../node_modules/.bin/deno}

status=0
sh "$here/test_prereqs.sh" || status=$?
case $status in
0 | 3) ;; # 3: apt-get could not provide everything; the tests that need it are ignored
*) exit "$status" ;;
esac

# deno's console output goes on as usual; a copy is kept to count the ignored tests.
log=$(mktemp)
exit_file=$(mktemp)
trap 'rm -f "$log" "$exit_file"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
{ "$deno" test --allow-all --parallel "$@" || echo "$?" >"$exit_file"; } | tee "$log"
status=$(cat "$exit_file")

# "<file> => <name> ... ignored (0ms)", colored: one count per reason in "(ignored: <reason>)".
awk '
  BEGIN { ansi = sprintf("%c", 27) "\\[[0-9;]*m" }
  {
    line = $0
    gsub(ansi, "", line)
    if (line !~ / \.\.\. ignored \([^)]*\)$/) next
    sub(/ \.\.\. ignored \([^)]*\)$/, "", line)
    reason = "no reason in the test name"
    if (match(line, /\(ignored: .*\)$/)) reason = substr(line, RSTART + 10, RLENGTH - 11)
    if (!(reason in count)) order[++reasons] = reason
    count[reason]++
    total++
  }
  END {
    if (total == 0) exit
    printf "Ignored %d test%s:\n", total, total == 1 ? "" : "s"
    for (i = 1; i <= reasons; i++) printf "  %d  %s\n", count[order[i]], order[i]
  }
' "$log"
exit "${status:-0}"

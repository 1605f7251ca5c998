# Shared by the fake k0s, helm and kubectl (tests only). State lives in $FAKE_STATE:
#   calls.log    one line per call: "<tool> <args...>"
#   stdin.log    what each call read on stdin, after a "== <tool> <args>" header
#   fail, hang   step names (one per line) that fail with exit 1 or hang (exec sleep)
#   units        systemd units, one a line: "<unit> enabled|disabled <active state>" (fake systemctl)
# Steps are "<tool>-<subcommand>", e.g. k0s-start, helm-upgrade, kubectl-apply.
: "${FAKE_STATE:?FAKE_STATE must name the fake tools state dir}"
mkdir -p "$FAKE_STATE"

fake_record() { # tool args...
  printf '%s\n' "$*" >>"$FAKE_STATE/calls.log"
}

fake_record_stdin() { # header
  { printf '== %s\n' "$*"; cat; printf '\n'; } >>"$FAKE_STATE/stdin.log"
}

fake_step() { # step name: hang or fail when told to
  if [ -f "$FAKE_STATE/hang" ] && grep -qx "$1" "$FAKE_STATE/hang"; then exec sleep 600; fi
  if [ -f "$FAKE_STATE/fail" ] && grep -qx "$1" "$FAKE_STATE/fail"; then
    echo "Error: fake failure injected at $1" >&2
    exit 1
  fi
}

fake_count() { # counter name: increments and prints it
  n=$(cat "$FAKE_STATE/$1" 2>/dev/null || echo 0)
  n=$((n + 1))
  echo "$n" >"$FAKE_STATE/$1"
  echo "$n"
}

fake_unit_state() { # unit: prints "<enabled> <active>" from $FAKE_STATE/units, or nothing
  [ -f "$FAKE_STATE/units" ] || return 0
  while read -r u e a; do
    [ "$u" != "$1" ] || echo "$e $a"
  done <"$FAKE_STATE/units"
}

fake_set_unit() { # unit enabled active: replaces the unit's line (no line when enabled is "-");
  # shell builtins only, as the prerequisites test runs the fakes with a PATH of a few basics
  others=
  if [ -f "$FAKE_STATE/units" ]; then
    while read -r u e a; do
      [ "$u" = "$1" ] || others="$others$u $e $a
"
    done <"$FAKE_STATE/units"
  fi
  if [ "$2" = - ]; then printf '%s' "$others"; else printf '%s%s %s %s\n' "$others" "$1" "$2" "$3"; fi >"$FAKE_STATE/units"
}

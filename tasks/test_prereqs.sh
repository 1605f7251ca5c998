#!/bin/sh
# Makes sure the Debian packages in tasks/test_packages.txt are installed before the tests run.
#
# Usage: sh tasks/test_prereqs.sh [--bench]     (--bench: the benchmark-only packages too)
#
# Looks up every command the listed packages provide on PATH. When some are missing:
#   - as root: installs their packages with apt-get (quiet, no recommends), prints one line
#     naming them, and disables any system service a package started (service=NAME in the list);
#     when apt-get cannot provide them (no apt-get, no network to the mirror), prints one line
#     naming the packages and apt-get's first error;
#   - otherwise: changes nothing and prints one line with the exact `sudo apt-get install` command.
# Exit status: 0 all present (or installed); 1 missing and not root; 2 usage error or a bad list;
# 3 root, but apt-get left some missing (the tests that need them are ignored, naming the reason).
set -eu

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
list=$here/test_packages.txt

with_bench=false
case $# in
0) ;;
1)
  if [ "$1" = --bench ]; then with_bench=true; else
    echo "Unknown argument \"$1\": usage: sh tasks/test_prereqs.sh [--bench]" >&2
    exit 2
  fi
  ;;
*)
  echo "Too many arguments: usage: sh tasks/test_prereqs.sh [--bench]" >&2
  exit 2
  ;;
esac

# Sets $missing_pkgs, $missing_cmds (space-separated, in list order) and $services
# ("package=service ...") from the list and PATH.
scan() {
  missing_pkgs=
  missing_cmds=
  services=
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    set -f
    # shellcheck disable=SC2086 # split the line into its fields
    set -- $line
    set +f
    [ $# -gt 0 ] || continue
    if [ $# -lt 2 ]; then
      echo "Cannot read \"$list\": package \"$1\" names no command" >&2
      exit 2
    fi
    pkg=$1 cmds=$2
    shift 2
    wanted=true
    for flag in "$@"; do
      case $flag in
      bench) wanted=$with_bench ;;
      service=?*) services="$services $pkg=${flag#service=}" ;;
      *)
        echo "Cannot read \"$list\": unknown flag \"$flag\" for package \"$pkg\"" >&2
        exit 2
        ;;
      esac
    done
    [ "$wanted" = true ] || continue
    lacks=false
    set -f
    old_ifs=$IFS
    IFS=,
    for cmd in $cmds; do
      if ! command -v "$cmd" >/dev/null 2>&1; then
        missing_cmds="$missing_cmds $cmd"
        lacks=true
      fi
    done
    IFS=$old_ifs
    set +f
    if [ "$lacks" = true ]; then missing_pkgs="$missing_pkgs $pkg"; fi
  done <"$list"
  missing_pkgs=${missing_pkgs# }
  missing_cmds=${missing_cmds# }
}

# Prints the first "E: " line of apt-get's output in file $1 (without "E: "), else its last line.
apt_error() {
  first="" last=""
  while IFS= read -r l; do
    case $l in "E: "*) [ -n "$first" ] || first=${l#E: } ;; esac
    [ -z "$l" ] || last=$l
  done <"$1"
  echo "${first:-${last:-apt-get failed without a message}}"
}

scan
[ -n "$missing_pkgs" ] || exit 0

if [ "$(id -u)" != 0 ]; then
  echo "The tests need commands that are not installed (\"$missing_cmds\"); install them with: sudo apt-get install -y $missing_pkgs" >&2
  exit 1
fi

cannot="Cannot install the test packages \"$missing_pkgs\" with apt-get (the tests that need them are ignored)"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$cannot: apt-get not found" >&2
  exit 3
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt or dpkg (unattended-upgrades) instead of failing on its lock.
lock="DPkg::Lock::Timeout=300"
# A failed update is not fatal: the install may still work from the lists already there.
apt-get -qq -o "$lock" update >"$log" 2>&1 || true
installing=$missing_pkgs
# shellcheck disable=SC2086 # one word per package
if ! apt-get -y -qq --no-install-recommends -o "$lock" install $installing >>"$log" 2>&1; then
  echo "$cannot: $(apt_error "$log")" >&2
  exit 3
fi
echo "Installed the test packages: $installing"

# Services a package started (docker-registry's would hold port 5000): the tests run their own.
for entry in $services; do
  case " $installing " in *" ${entry%%=*} "*) ;; *) continue ;; esac
  svc=${entry#*=}
  command -v systemctl >/dev/null 2>&1 || continue
  systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null || continue
  systemctl disable --now --quiet "$svc" >/dev/null 2>&1 || systemctl disable --quiet "$svc" >/dev/null 2>&1 || true
  echo "Disabled the $svc service that package ${entry%%=*} started (the tests start their own)"
done

scan
if [ -n "$missing_cmds" ]; then
  echo "Cannot find \"$missing_cmds\" on PATH after installing \"$installing\" (the tests that need them are ignored)" >&2
  exit 3
fi

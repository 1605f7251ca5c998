#!/bin/sh
# Fake k0s for worker-join tests (stands in for the real binary, which needs systemd and root).
# Appends its argv as one line to $FAKE_K0S_LOG. State lives under $K0RDENTD_ROOT:
#   install worker ...  -> creates etc/systemd/system/k0sworker.service (what k0s would install)
#   start               -> marks k0s running;  status -> exit 0 when running, 1 otherwise
# FAKE_K0S_TOKEN_COPY, when set, receives a copy of the --token-file given to "install".
set -eu
printf '%s\n' "$*" >>"${FAKE_K0S_LOG:?FAKE_K0S_LOG is not set}"
root=${K0RDENTD_ROOT:?K0RDENTD_ROOT is not set}
running=$root/run/fake-k0s.running
case ${1:-} in
  install)
    if [ "${FAKE_K0S_TOKEN_COPY:-}" ] && [ "${3:-}" = "--token-file" ]; then
      cp "$4" "$FAKE_K0S_TOKEN_COPY"
    fi
    mkdir -p "$root/etc/systemd/system"
    printf '[Service]\nExecStart=/usr/local/bin/k0s %s\n' "$2" >"$root/etc/systemd/system/k0s$2.service"
    ;;
  start)
    mkdir -p "$root/run"
    : >"$running"
    ;;
  status)
    if [ -e "$running" ]; then
      printf 'Version: v1.32.8+k0s.0\nRole: worker\n'
    else
      echo "Error: k0s not running" >&2
      exit 1
    fi
    ;;
  *) ;;
esac

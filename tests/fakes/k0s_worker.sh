#!/bin/sh
# Fake k0s for join and worker-bundle tests (the real binary needs systemd, root and a cluster).
# Appends its argv as one line to $FAKE_K0S_LOG. State lives under $K0RDENTD_ROOT:
#   install <role> ...   -> creates etc/systemd/system/k0s<role>.service (what k0s would install)
#   start                -> marks k0s running and creates var/lib/k0s (as a started k0s does)
#   stop                 -> unmarks it; refused as k0s v1.32.8 cmd/stop/stop.go refuses: no service
#                           of either role installed, or "already stopped"
#   reset                -> refused while running (cmd/reset/reset.go); else removes both roles'
#                           service files and var/lib/k0s (pkg/cleanup services.go, directories.go)
#   status [-o json]     -> exit 0 with a status when running or FAKE_K0S_RUNNING=1, else exit 1;
#                           role: $FAKE_K0S_ROLE, else from the installed service, else worker
#   version              -> prints $FAKE_K0S_VERSION (default v1.32.8+k0s.0)
#   token create --role=R --expiry=E -> prints a fake token "fake-token-R-E"; with
#                           FAKE_K0S_TOKEN_FORMAT=k0s one shaped like k0s's (base64 of a gzipped
#                           kubeconfig holding the bootstrap token <id>.<secret>, id "ctl<E>" or
#                           "wrk<E>" padded to 6 with 0); exits 1 for role FAKE_K0S_TOKEN_FAIL
#   token invalidate ID  -> nothing (the call is logged)
#   airgap list-images   -> prints $FAKE_K0S_IMAGES (space-separated), one per line
#   kubectl ...          -> a node list holding this host's node (lower-case hostname), Ready
#                           unless FAKE_NODE_NOT_READY=1; a worker without admin.conf refuses
#                           a call without --kubeconfig
# FAKE_K0S_TOKEN_COPY, when set, receives a copy of the --token-file given to "install".
set -eu
printf '%s\n' "$*" >>"${FAKE_K0S_LOG:?FAKE_K0S_LOG is not set}"
root=${K0RDENTD_ROOT:?K0RDENTD_ROOT is not set}
running=$root/run/fake-k0s.running
version=${FAKE_K0S_VERSION:-v1.32.8+k0s.0}
if [ -e "$root/etc/systemd/system/k0scontroller.service" ]; then
  role=${FAKE_K0S_ROLE:-controller+worker}
else
  role=${FAKE_K0S_ROLE:-worker}
fi
case ${1:-} in
  install)
    if [ "${FAKE_K0S_TOKEN_COPY:-}" ] && [ "${3:-}" = "--token-file" ]; then
      cp "$4" "$FAKE_K0S_TOKEN_COPY"
    fi
    mkdir -p "$root/etc/systemd/system"
    printf '[Service]\nExecStart=/usr/local/bin/k0s %s\n' "$2" >"$root/etc/systemd/system/k0s$2.service"
    ;;
  start)
    mkdir -p "$root/run" "$root/var/lib/k0s"
    : >"$running"
    ;;
  stop)
    if [ ! -e "$root/etc/systemd/system/k0scontroller.service" ] &&
      [ ! -e "$root/etc/systemd/system/k0sworker.service" ]; then
      echo "Error: k0s has not been installed as a service" >&2
      exit 1
    fi
    [ -e "$running" ] || { echo "Error: already stopped" >&2; exit 1; }
    rm -f "$running"
    ;;
  reset)
    if [ -e "$running" ]; then
      echo "Error: k0s seems to be running! please stop k0s before reset." >&2
      exit 1
    fi
    rm -f "$root/etc/systemd/system/k0scontroller.service" "$root/etc/systemd/system/k0sworker.service"
    rm -rf "$root/var/lib/k0s"
    ;;
  status)
    if [ ! -e "$running" ] && [ "${FAKE_K0S_RUNNING:-}" != 1 ]; then
      echo "Error: k0s not running" >&2
      exit 1
    fi
    if [ "${2:-}" = "-o" ]; then
      # Workers and controller+worker nodes have workloads and report the probe of the API with
      # the kubelet's credentials (k0s v1.32.8+k0s.0 pkg/component/status/status.go).
      printf '{"Version":"%s","Pid":42,"Role":"%s","SysInit":"linux-systemd","Workloads":true,"WorkerToAPIConnectionStatus":{"Message":"","Success":true}}\n' "$version" "$role"
    else
      printf 'Version: %s\nProcess ID: 42\nRole: %s\nWorkloads: true\nKube-api probing successful: true\n' "$version" "$role"
    fi
    ;;
  version) echo "$version" ;;
  airgap)
    for image in ${FAKE_K0S_IMAGES:-}; do echo "$image"; done
    ;;
  token)
    [ "${2:-}" = invalidate ] && exit 0
    r=${3#--role=}
    e=${4#--expiry=}
    if [ "$r" = "${FAKE_K0S_TOKEN_FAIL:-}" ]; then
      echo "Error: failed to create a $r token" >&2
      exit 1
    fi
    if [ "${FAKE_K0S_TOKEN_FORMAT:-}" = k0s ]; then
      id=$(printf '%.3s%s000000' "$r" "$e" | cut -c1-6 | sed 's/con/ctl/; s/wor/wrk/')
      printf 'apiVersion: v1\nkind: Config\nusers:\n- name: kubelet-bootstrap\n  user:\n    token: %s.0123456789abcdef\n' "$id" |
        gzip -c | base64 -w0
      echo
    else
      echo "fake-token-$r-$e"
    fi
    ;;
  kubectl)
    # A worker has no admin kubeconfig: k0s kubectl needs --kubeconfig there (k0s v1.32.8+k0s.0
    # cmd/kubectl/kubectl.go fallbackToK0sKubeconfig).
    case " $* " in
      *" --kubeconfig "* | *" --kubeconfig="*) ;;
      *)
        if [ "$role" = worker ] && [ ! -e "$root/var/lib/k0s/pki/admin.conf" ]; then
          echo "Error: cannot stat k0s kubeconfig, is the server running?: stat /var/lib/k0s/pki/admin.conf: no such file or directory" >&2
          exit 1
        fi
        ;;
    esac
    ready=True
    [ "${FAKE_NODE_NOT_READY:-}" = 1 ] && ready=False
    node=$(hostname | tr '[:upper:]' '[:lower:]')
    printf '{"items":[{"metadata":{"name":"%s"},"status":{"conditions":[{"type":"Ready","status":"%s"}]}}]}\n' "$node" "$ready"
    ;;
  *) ;;
esac

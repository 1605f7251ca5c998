# Sourced by the fake kubectl (tests only): k0rdent's Management "kcm" and Release objects as
# kcm keeps them (k0rdent/kcm api/v1beta1/management_types.go, release_types.go), in $FAKE_STATE:
#   mgmt-release          spec.release (kcm creates the Management with the Release of its
#                         own version when the chart is first installed: the fake helm writes it)
#   mgmt-status-release   status.release: follows spec.release after FAKE_MGMT_UPGRADE_AFTER polls
#   mgmt-config.json      spec.core.kcm.config as last merge-patched
#   releases/<name>       applied Release objects (their YAML); status.ready after
#                         FAKE_RELEASE_READY_AFTER polls (default 2), as kcm's Release controller
#                         sets it once the templates of kcm-templates <spec.version> are valid
# It refuses what kcm's validating webhook refuses (internal/webhook/management_webhook.go
# validateRelease): a spec.release naming a Release that does not exist or is not ready.
# FAKE_KCM_READY_AFTER: polls before Management is Ready after install or an upgrade (default 1).

k0rdent_not_found() { # resource name
  echo "Error from server (NotFound): $1.k0rdent.mirantis.com \"$2\" not found" >&2
  exit 1
}

k0rdent_get_management() { # name
  fake_step kubectl-get-management
  if [ ! -f "$FAKE_STATE/helm-release" ]; then
    echo 'error: the server doesn'"'"'t have a resource type "management"' >&2
    exit 1
  fi
  [ "$1" = kcm ] || k0rdent_not_found managements "$1"
  spec=$(cat "$FAKE_STATE/mgmt-release" 2>/dev/null || true)
  current=$(cat "$FAKE_STATE/mgmt-status-release" 2>/dev/null || echo "$spec")
  polls=$(fake_count kcm-polls)
  if [ "$current" != "$spec" ] && [ "$polls" -ge "${FAKE_MGMT_UPGRADE_AFTER:-2}" ]; then
    current=$spec
    printf '%s\n' "$current" >"$FAKE_STATE/mgmt-status-release"
    echo 0 >"$FAKE_STATE/kcm-polls"
    polls=0
  fi
  ready=False
  capi=false
  if [ "$current" = "$spec" ] && [ "$polls" -ge "${FAKE_KCM_READY_AFTER:-1}" ]; then
    ready=True
    capi=true
  fi
  message="waiting for components"
  if [ -f "$FAKE_STATE/kcm-broken" ]; then
    ready=False
    message=$(cat "$FAKE_STATE/kcm-broken")
  fi
  config=$(cat "$FAKE_STATE/mgmt-config.json" 2>/dev/null || echo '{}')
  cat <<JSON
{"apiVersion":"k0rdent.mirantis.com/v1beta1","kind":"Management","metadata":{"name":"kcm"},
"spec":{"release":"$spec","core":{"kcm":{"config":$config}}},
"status":{"release":"$current","components":{"kcm":{"success":true},"cluster-api":{"success":$capi},"projectsveltos":{"success":$capi}},
"conditions":[{"type":"Ready","status":"$ready","reason":"Progressing","message":"$message"}]}}
JSON
}

k0rdent_release_ready() { # name: 0 when the Release reports status.ready
  [ "$(cat "$FAKE_STATE/releases/$1.polls" 2>/dev/null || echo 0)" -ge "${FAKE_RELEASE_READY_AFTER:-2}" ]
}

k0rdent_get_release() { # name
  fake_step kubectl-get-release
  file="$FAKE_STATE/releases/$1"
  [ -f "$file" ] || k0rdent_not_found releases "$1"
  fake_count "releases/$1.polls" >/dev/null
  ready=false
  k0rdent_release_ready "$1" && ready=true
  version=$(sed -n 's/^  version: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$file")
  cat <<JSON
{"apiVersion":"k0rdent.mirantis.com/v1beta1","kind":"Release","metadata":{"name":"$1"},
"spec":{"version":"$version"},"status":{"ready":$ready,"conditions":[{"type":"TemplatesValid","status":"$(if [ "$ready" = true ]; then echo True; else echo False; fi)","message":"waiting for templates"}]}}
JSON
}

k0rdent_apply_release() { # YAML of one Release, checked as its CRD's required fields
  stdin=$1
  name=$(printf '%s\n' "$stdin" | sed -n 's/^  name: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | head -n 1)
  for field in "  version:" "    template:"; do
    if ! printf '%s\n' "$stdin" | grep -q "^$field"; then
      echo "The Release \"$name\" is invalid: spec: Required value (${field# *})" >&2
      exit 1
    fi
  done
  mkdir -p "$FAKE_STATE/releases"
  printf '%s\n' "$stdin" >"$FAKE_STATE/releases/$name"
  echo "release.k0rdent.mirantis.com/$name serverside-applied"
}

k0rdent_create_management() { # helm release, version: kcm's first reconcile after the install
  [ -f "$FAKE_STATE/mgmt-release" ] && return 0
  printf '%s\n' "$1" >"$FAKE_STATE/mgmt-helm-release"
  shift
  name="kcm-$(printf '%s' "${1#v}" | tr '.+' '--' | tr '[:upper:]' '[:lower:]')"
  mkdir -p "$FAKE_STATE/releases"
  printf 'kind: Release\nmetadata:\n  name: %s\nspec:\n  version: %s\n' "$name" "$1" >"$FAKE_STATE/releases/$name"
  echo 99 >"$FAKE_STATE/releases/$name.polls"
  printf '%s\n' "$name" >"$FAKE_STATE/mgmt-release"
  printf '%s\n' "$name" >"$FAKE_STATE/mgmt-status-release"
}

k0rdent_patch_management() { # args after "patch management": name --type=merge --patch-file F
  fake_step kubectl-patch-management
  if [ ! -f "$FAKE_STATE/helm-release" ] || [ "$1" != kcm ]; then
    k0rdent_not_found managements "$1"
  fi
  type="" file=""
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
    --type=*) type=${1#--type=} ;;
    --patch-file) file="$2"; shift ;;
    -p | --patch) echo "fake kubectl: the patch must come in a file, not on argv (it may hold secrets)" >&2; exit 1 ;;
    esac
    shift
  done
  [ "$type" = merge ] || { echo "error: fake kubectl only merge-patches Management (--type=merge)" >&2; exit 1; }
  patch=$(cat "$file") || exit 1
  printf '%s\n' "$patch" | fake_record_stdin kubectl patch management kcm
  release=$(printf '%s' "$patch" | sed -n 's/.*"release":"\([^"]*\)".*/\1/p')
  if [ -n "$release" ]; then
    prefix="Error from server (Forbidden): admission webhook \"validation.management.k0rdent.mirantis.com\" denied the request: Management.k0rdent.mirantis.com \"kcm\" is invalid: spec.release: Forbidden:"
    [ -f "$FAKE_STATE/releases/$release" ] || { echo "$prefix releases.k0rdent.mirantis.com \"$release\" not found" >&2; exit 1; }
    k0rdent_release_ready "$release" || { echo "$prefix release \"$release\" status is not ready" >&2; exit 1; }
    if [ "$release" != "$(cat "$FAKE_STATE/mgmt-release")" ]; then
      printf '%s\n' "$release" >"$FAKE_STATE/mgmt-release"
      echo 0 >"$FAKE_STATE/kcm-polls"
    fi
  fi
  case "$patch" in
  *'"config":'*)
    printf '%s' "$patch" | sed 's/^{"spec":{"core":{"kcm":{"config":\(.*\)}}}}$/\1/' >"$FAKE_STATE/mgmt-config.json"
    ;;
  esac
  echo "management.k0rdent.mirantis.com/kcm patched"
}

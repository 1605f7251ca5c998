# shellcheck shell=sh
# Sourced by the fake kubectl (tests only): the cluster's nodes and k0s autopilot, i.e.
# get nodes / controlnodes / plan -o json, delete plan, and the apply of a Plan (JSON on stdin).
# Needs jq and curl (tasks/test_packages.txt).
#
# FAKE_CLUSTER_NODES  "name:role[:arch] ..." (role controller+worker or worker, arch default
#                     amd64); default "node-1:controller+worker". The first node is this host: its
#                     version is the running fake k0s's. The others start at
#                     FAKE_CLUSTER_K0S_VERSION (default v1.32.8+k0s.0), kept in node-version-<name>.
# FAKE_NODE_READY_AFTER     node polls before Ready (default 1).
# FAKE_PLAN_COMPLETE_AFTER  Plan polls before autopilot has updated every node (default 2).
# FAKE_NODE_CONNECT_TO      curl --connect-to mapping for the nodes' downloads (the advertised
#                           address is this host; tests map it to the loopback listener).
# A line "autopilot-worker" in $FAKE_STATE/fail makes the first worker's update fail
# (SignalApplyFailed, the Plan ApplyFailed) after the controllers were updated.
#
# Like k0s autopilot (github.com/k0sproject/k0s at v1.32.8+k0s.0): the Plan CRD
# (static/_crds/autopilot/autopilot.k0sproject.io_plans.yaml) refuses a Plan without spec.id,
# spec.timestamp, spec.commands, k0supdate version/platforms/targets, a platform url or a
# target's discovery; a Plan of another name is stored but never acted on
# (pkg/autopilot/controller/plans/init.go); a node without its platform in the Plan, or without a
# Node/ControlNode, ends the Plan IncompleteTargets (k0supdate/newplan.go); each node downloads
# its platform's url, checks sha256 when given, and runs the new binary (signal/k0s/*.go); spec
# changes after autopilot took a Plan in are ignored (docs/autopilot.md "Plans are Immutable").

ap_nodes() { echo "${FAKE_CLUSTER_NODES:-node-1:controller+worker}"; }

# Splits a FAKE_CLUSTER_NODES entry ($1) into $name, $role and $arch (no subprocess: the nodes
# are read on every readiness poll, and install tests poll with short timeouts).
ap_split() {
  name=${1%%:*}
  rest=${1#*:}
  role=${rest%%:*}
  arch=amd64
  case "$rest" in *:*) arch=${rest#*:} ;; esac
}

ap_this_host() {
  # shellcheck disable=SC2046 # word splitting of the node list is intended
  set -- $(ap_nodes)
  echo "${1%%:*}"
}

ap_version() { # node name, this host's name
  v=""
  if [ "$1" = "$2" ]; then
    [ -f "$FAKE_STATE/k0s-running" ] && read -r v <"$FAKE_STATE/k0s-running"
    echo "${v:-${FAKE_K0S_VERSION:-v1.32.8+k0s.0}}"
  else
    [ -f "$FAKE_STATE/node-version-$1" ] && read -r v <"$FAKE_STATE/node-version-$1"
    echo "${v:-${FAKE_CLUSTER_K0S_VERSION:-v1.32.8+k0s.0}}"
  fi
}

ap_role() { # node name: its role, or nothing
  for n in $(ap_nodes); do
    ap_split "$n"
    [ "$name" = "$1" ] && { echo "$role"; return; }
  done
}

ap_arch() { # node name
  for n in $(ap_nodes); do
    ap_split "$n"
    [ "$name" = "$1" ] && { echo "$arch"; return; }
  done
}

ap_get_nodes() {
  polls=$(fake_count node-polls)
  ready=False
  [ "$polls" -ge "${FAKE_NODE_READY_AFTER:-1}" ] && ready=True
  this=$(ap_this_host)
  i=7
  sep=""
  printf '{"apiVersion":"v1","kind":"List","items":['
  for n in $(ap_nodes); do
    ap_split "$n"
    v=$(ap_version "$name" "$this")
    printf '%s\n{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s","labels":{"kubernetes.io/arch":"%s","kubernetes.io/os":"linux","kubernetes.io/hostname":"%s"}},' \
      "$sep" "$name" "$arch" "$name"
    printf '"status":{"addresses":[{"type":"InternalIP","address":"10.0.0.%s"},{"type":"Hostname","address":"%s"}],' "$i" "$name"
    printf '"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"%s","reason":"KubeletReady"}],' "$ready"
    printf '"nodeInfo":{"kubeletVersion":"%s+k0s","operatingSystem":"linux","architecture":"%s"}}}' "${v%%+*}" "$arch"
    sep=,
    i=$((i + 1))
  done
  printf ']}\n'
}

ap_get_controlnodes() {
  this=$(ap_this_host)
  sep=""
  printf '{"apiVersion":"v1","kind":"List","items":['
  for n in $(ap_nodes); do
    ap_split "$n"
    case "$role" in controller*) ;; *) continue ;; esac
    printf '%s\n{"apiVersion":"autopilot.k0sproject.io/v1beta2","kind":"ControlNode","metadata":{"name":"%s","labels":{"kubernetes.io/arch":"%s","kubernetes.io/os":"linux"}},"status":{"k0sVersion":"%s"}}' \
      "$sep" "$name" "$arch" "$(ap_version "$name" "$this")"
    sep=,
  done
  printf ']}\n'
}

# The CRD's refusals of a Plan on stdin ($1): prints kubectl's error and fails.
ap_validate() {
  api=$(printf '%s' "$1" | jq -r '.apiVersion // ""')
  name=$(printf '%s' "$1" | jq -r '.metadata.name // ""')
  if [ "$api" != "autopilot.k0sproject.io/v1beta2" ]; then
    echo "error: resource mapping not found for name: \"$name\" namespace: \"\" from \"STDIN\": no matches for kind \"Plan\" in version \"$api\"" >&2
    echo "ensure CRDs are installed first" >&2
    return 1
  fi
  missing=$(printf '%s' "$1" | jq -r '
    [ (if .spec.id == null then "spec.id" else empty end),
      (if .spec.timestamp == null then "spec.timestamp" else empty end),
      (if .spec.commands == null then "spec.commands" else empty end),
      ((.spec.commands // []) | to_entries[] | .key as $i | .value.k0supdate // empty |
        (if .version == null then "spec.commands[\($i)].k0supdate.version" else empty end),
        (if .platforms == null then "spec.commands[\($i)].k0supdate.platforms" else empty end),
        (if .targets == null then "spec.commands[\($i)].k0supdate.targets" else empty end),
        ((.platforms // {}) | to_entries[] | select(.value.url == null) |
          "spec.commands[\($i)].k0supdate.platforms.\(.key).url"),
        ((.targets // {}) | to_entries[] | select(.value.discovery == null) |
          "spec.commands[\($i)].k0supdate.targets.\(.key).discovery"))
    ] | first // ""')
  if [ -n "$missing" ]; then
    echo "The Plan \"$name\" is invalid: $missing: Required value" >&2
    return 1
  fi
}

ap_apply() { # the Plan JSON
  ap_validate "$1" || exit 1
  name=$(printf '%s' "$1" | jq -r .metadata.name)
  # Stored as the API would; autopilot's view (status, counters) stays if it took one in.
  # Plans of other names are stored apart: autopilot never acts on them.
  if [ "$name" = autopilot ]; then
    printf '%s\n' "$1" >"$FAKE_STATE/plan.json"
  else
    printf '%s\n' "$1" >"$FAKE_STATE/plan-other-$name.json"
  fi
  echo "plan.autopilot.k0sproject.io/$name serverside-applied"
}

# Updates one node ($1 name, $2 role) as autopilot's signal does; prints its state.
ap_update_node() {
  name=$1
  platform="linux-$(ap_arch "$name")"
  url=$(jq -r --arg p "$platform" '.spec.commands[0].k0supdate.platforms[$p].url // ""' "$FAKE_STATE/plan.json")
  sum=$(jq -r --arg p "$platform" '.spec.commands[0].k0supdate.platforms[$p].sha256 // ""' "$FAKE_STATE/plan.json")
  [ -n "$url" ] || { echo SignalMissingPlatform; return; }
  file="$FAKE_STATE/autopilot-download"
  # FAKE_NODE_CONNECT_TO (curl --connect-to HOST:PORT:HOST2:PORT2): the nodes reach the advertised
  # address, which is this host; end-to-end tests map it to the loopback listener.
  set -- -sSf --max-time 20
  [ -n "${FAKE_NODE_CONNECT_TO:-}" ] && set -- "$@" --connect-to "$FAKE_NODE_CONNECT_TO"
  curl "$@" "$url" -o "$file" 2>>"$FAKE_STATE/autopilot.log" || { echo SignalApplyFailed; return; }
  if [ -n "$sum" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sum" ]; then
    echo "$name: sha256 mismatch for $url" >>"$FAKE_STATE/autopilot.log"
    echo SignalApplyFailed
    return
  fi
  chmod 755 "$file"
  v=$("$file" version) || { echo SignalApplyFailed; return; }
  if [ "$name" = "$(ap_this_host)" ]; then
    # This host: the binary is replaced and k0s restarts with it.
    mv "$file" "${K0RDENTD_ROOT:-}/usr/local/bin/k0s"
    echo "$v" >"$FAKE_STATE/k0s-running"
  else
    echo "$v" >"$FAKE_STATE/node-version-$name"
  fi
  echo SignalCompleted
}

# Autopilot's run of the stored Plan: writes plan-status.json once the Plan is done.
ap_run_plan() {
  states="$FAKE_STATE/plan-node-states"
  : >"$states"
  result=Completed
  for role in controllers workers; do
    for target in $(jq -r ".spec.commands[0].k0supdate.targets.$role.discovery.static.nodes // [] | .[]" "$FAKE_STATE/plan.json"); do
      r=$(ap_role "$target")
      if [ -z "$r" ] || { [ "$role" = controllers ] && [ "$r" = worker ]; }; then
        state=SignalMissingNode
      elif [ "$result" != Completed ]; then
        state=SignalPending
      elif [ "$role" = workers ] && [ -f "$FAKE_STATE/fail" ] && grep -qx autopilot-worker "$FAKE_STATE/fail"; then
        state=SignalApplyFailed
      else
        state=$(ap_update_node "$target")
      fi
      case "$state" in
      SignalMissingNode | SignalMissingPlatform) result=IncompleteTargets ;;
      SignalApplyFailed) result=ApplyFailed ;;
      esac
      echo "$role $target $state" >>"$states"
    done
  done
  jq -Rn --arg state "$result" '[inputs | split(" ")] |
    {state: $state, commands: [{id: 0, state: $state, k0supdate: {
      controllers: [.[] | select(.[0] == "controllers") | {name: .[1], state: .[2], lastUpdatedTimestamp: "2026-01-01T00:00:00Z"}],
      workers: [.[] | select(.[0] == "workers") | {name: .[1], state: .[2], lastUpdatedTimestamp: "2026-01-01T00:00:00Z"}]}}]}' \
    <"$states" >"$FAKE_STATE/plan-status.json"
}

ap_get_plan() {
  plan="$FAKE_STATE/plan.json"
  [ "$1" = autopilot ] || plan="$FAKE_STATE/plan-other-$1.json"
  if [ ! -f "$plan" ]; then
    echo "Error from server (NotFound): plans.autopilot.k0sproject.io \"$1\" not found" >&2
    exit 1
  fi
  if [ "$1" != autopilot ]; then
    cat "$plan" # never acted on: no status
    return
  fi
  if [ ! -f "$FAKE_STATE/plan-status.json" ]; then
    polls=$(fake_count plan-polls)
    if [ "$polls" -ge "${FAKE_PLAN_COMPLETE_AFTER:-2}" ]; then
      ap_run_plan
    else
      jq '. + {status: {state: "SchedulableWait", commands: [{id: 0, state: "SchedulableWait",
        k0supdate: {
          controllers: [(.spec.commands[0].k0supdate.targets.controllers.discovery.static.nodes // [])[] | {name: ., state: "SignalPending"}],
          workers: [(.spec.commands[0].k0supdate.targets.workers.discovery.static.nodes // [])[] | {name: ., state: "SignalPending"}]}}]}}' "$plan"
      return
    fi
  fi
  jq --slurpfile s "$FAKE_STATE/plan-status.json" '. + {status: $s[0]}' "$plan"
}

# Handles "$@" when it is a nodes/autopilot call; returns 1 (untouched) otherwise.
fake_autopilot() {
  case "$1 $2" in
  "get nodes")
    fake_step kubectl-get-nodes
    ap_get_nodes
    ;;
  "get controlnodes")
    fake_step kubectl-get-controlnodes
    ap_get_controlnodes
    ;;
  "get plan")
    fake_step kubectl-get-plan
    ap_get_plan "$3"
    ;;
  "delete plan")
    fake_step kubectl-delete-plan
    if [ ! -f "$FAKE_STATE/plan.json" ]; then
      [ "$4" = --ignore-not-found ] && return 0
      echo "Error from server (NotFound): plans.autopilot.k0sproject.io \"$3\" not found" >&2
      exit 1
    fi
    rm -f "$FAKE_STATE/plan.json" "$FAKE_STATE/plan-status.json" "$FAKE_STATE/plan-polls"
    echo "plan.autopilot.k0sproject.io \"$3\" deleted"
    ;;
  *) return 1 ;;
  esac
}

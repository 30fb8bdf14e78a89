#!/usr/bin/env bash
# A fastkv cluster on emulated hosts: the coordinator, each prefill worker and each decode worker in
# its own network namespace, joined through a bridge (in a namespace of its own) by veth links that
# are rate limited with tc tbf on both ends. The root namespace gets a veth into the bridge too, so
# `fastkv submit` / `fastkv bench` run unchanged from the root namespace:
#
#   scripts/netns-cluster.sh up [--prefill N] [--decode M] [--link RATE[,DELAY]] [--run-dir DIR]
#                               [--model PATH] [--timeout S]
#   scripts/netns-cluster.sh down [--run-dir DIR]
#   fastkv bench --coordinator tcp://10.77.0.1:5555 ...
#
# Addresses (10.77.0.0/24, created here): coordinator .1, prefill i .(10+i), decode j .(100+j), root
# namespace .254. RATE is a tc rate (1gbit, 10gbit, 500mbit; empty = no rate limit, e.g. `--link ,20ms`),
# applied with tc tbf on both ends of every host's link.
#
# DELAY (e.g. 0.2ms, 20ms; a bare number is ms) is the one-way delay between two emulated hosts, so a
# round trip between them gains 2 x DELAY. This kernel has no netem, so it is emulated in userspace by
# scripts/delay-relay.py (TCP relay: every chunk is held DELAY before it is written on, in order, with
# bounded buffering; a new connection reaches the target 3 x DELAY after it was accepted, like TCP's
# handshake on the link), one relay per destination, inside that destination's namespace:
#   - KV path: decode worker j binds its KV ROUTER on 127.0.0.1:6000 inside fkv-dj (unreachable from
#     other hosts) and advertises tcp://10.77.0.(100+j):6001 (`--kv-advertise`), where a relay in fkv-dj
#     forwards to it; so every prefill -> decode KV connection crosses the links and the relay.
#   - Control path: a relay in fkv-coord listens on 10.77.0.1:5556 and forwards to the coordinator on
#     10.77.0.1:5555; the workers are given :5556, so registration, heartbeats, Assignments, tokens
#     and Results are delayed too. Clients in the root namespace use :5555 directly (not delayed).
# Without a DELAY no relay runs and the workers connect directly. Relay pids are recorded in the run
# dir like the fastkv processes; their logs are relay-*.log.
#
# `down` stops the processes (fastkv and relays) and deletes the namespaces and the root veth recorded
# in the run dir's state file, and nothing else. Needs root, iproute2 and python3.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"; shift || true
prefill=1; decode=1; link=""; run_dir="runs/netns-cluster"; model="models/SmolLM2-135M-Instruct.Q4_1.gguf"; wait_s=90
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefill) prefill="$2"; shift 2 ;;
    --decode) decode="$2"; shift 2 ;;
    --link) link="$2"; shift 2 ;;
    --run-dir) run_dir="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --timeout) wait_s="$2"; shift 2 ;;
    *) echo "netns-cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

bin="${FASTKV_BIN:-$(swift build -c release --show-bin-path 2>/dev/null)/fastkv}"
state="$run_dir/netns.state"
net_ns="fkv-net"; bridge="br0"; host_veth="fkv-host"
subnet_prefix="10.77.0"; coord_ep="tcp://$subnet_prefix.1:5555"

die() { echo "netns-cluster.sh: $*" >&2; exit 1; }
relay_py="$PWD/scripts/delay-relay.py"
# Debian's interpreter when present (a pyenv shim costs a fraction of a second per start); any python3 works.
python=$( [[ -x /usr/bin/python3 ]] && echo /usr/bin/python3 || command -v python3 || echo python3)
# A recorded pid is only signalled while it still runs one of ours (fastkv or the delay relay).
is_ours() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -Eq "fastkv|delay-relay\.py"; }

# tbf burst: 2.5 ms of traffic at the rate, at least 256 KiB (a veth GSO packet is up to 64 KiB).
burst_for() {
  python3 - "$1" <<'PY'
import re, sys
m = re.fullmatch(r"([0-9.]+)\s*([kmg]?)(bit|bps)", sys.argv[1].lower())
if not m: sys.exit(1)
v = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)]
bits = v * 8 if m.group(3) == "bps" else v
print(max(262144, int(bits / 8 * 0.0025)))
PY
}

down() {
  [[ -f "$state" ]] || { echo "netns-cluster.sh: nothing recorded in $state"; return 0; }
  local f pid stopped=0
  for f in "$run_dir"/*.pid; do
    [[ -e "$f" ]] || continue
    pid=$(cat "$f"); is_ours "$pid" && kill -TERM "$pid" 2>/dev/null && stopped=$((stopped + 1))
  done
  for _ in $(seq 1 30); do
    local alive=0
    for f in "$run_dir"/*.pid; do [[ -e "$f" ]] && is_ours "$(cat "$f")" && alive=1; done
    [[ $alive == 0 ]] && break; sleep 0.1
  done
  for f in "$run_dir"/*.pid; do
    [[ -e "$f" ]] || continue
    pid=$(cat "$f"); is_ours "$pid" && kill -KILL "$pid" 2>/dev/null || true; rm -f "$f"
  done
  local kind name
  while read -r kind name; do
    case "$kind" in
      netns) ip netns del "$name" 2>/dev/null || true ;;
      link) ip link del "$name" 2>/dev/null || true ;;
    esac
  done < <(tac "$state")
  rm -f "$state" "$run_dir/coordinator.endpoint"
  echo "netns-cluster.sh: stopped $stopped processes, removed the namespaces and links in $state"
}

# Adds host namespace $1 with address $2 on eth0, linked to the bridge.
add_host() {
  local ns="$1" addr="$2" port="p-$1"
  ip netns add "$ns"; echo "netns $ns" >> "$state"
  ip link add name eth0 netns "$ns" type veth peer name "${port:0:15}" netns "$net_ns"
  ip -n "$net_ns" link set "${port:0:15}" master "$bridge" up
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  shape "$ns" eth0; shape "$net_ns" "${port:0:15}"
}

# Rate limits the egress of device $2 in namespace $1 (both ends of each link get one).
shape() {
  [[ -n "$rate" ]] || return 0
  ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$rate" burst "$burst" latency 50ms
}

# Starts a delay relay named $1 in namespace $2, listening on $3 (HOST:PORT) and forwarding to $4,
# and waits until it accepts.
start_relay() {
  local name="$1" ns="$2" listen="$3" target="$4"
  ip netns exec "$ns" "$python" "$relay_py" --listen "$listen" --target "$target" --delay "$delay" \
    < /dev/null > "$run_dir/relay-$name.out" 2> "$run_dir/relay-$name.log" &
  echo $! > "$run_dir/relay-$name.pid"
  for _ in $(seq 1 400); do
    grep -q "listening" "$run_dir/relay-$name.out" 2>/dev/null && return 0
    kill -0 "$(cat "$run_dir/relay-$name.pid")" 2>/dev/null || break   # our child: its pid is not reused
    sleep 0.05
  done
  echo "netns-cluster.sh: delay relay $name ($listen -> $target in $ns) did not start: $(cat "$run_dir/relay-$name.log")" >&2
  down; exit 1
}

up() {
  [[ $(id -u) == 0 ]] || die "needs root (network namespaces); run as root or use scripts/cluster.sh for loopback"
  command -v ip > /dev/null || die "needs iproute2 (ip); apt-get install -y iproute2"
  command -v tc > /dev/null || die "needs tc (iproute2)"
  [[ -x "$bin" ]] || die "$bin is missing; run swift build -c release --product fastkv"
  [[ -e "$model" ]] || die "model $model is missing; run scripts/fetch-model.sh"
  [[ -f "$state" ]] && die "a netns cluster is recorded in $state; run scripts/netns-cluster.sh down --run-dir $run_dir"
  rate=""; burst=""; delay=""; delay_s=0
  if [[ -n "$link" ]]; then
    rate="${link%%,*}"; [[ "$link" == *,* ]] && delay="${link#*,}"
    if [[ -n "$rate" ]]; then
      burst=$(burst_for "$rate") || die "--link rate '$rate' is not a tc rate (e.g. 1gbit, 10gbit, 500mbit)"
    fi
    if [[ -n "$delay" ]]; then
      command -v "$python" > /dev/null || die "link delay needs python3 (scripts/delay-relay.py); apt-get install -y python3"
      delay_s=$("$python" "$relay_py" --parse-delay "$delay" 2>&1) || die "--link delay: $delay_s"
      # A zero delay needs no relay.
      "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0 else 1)' "$delay_s" || delay=""
    fi
  fi
  local ns
  for ns in "$net_ns" fkv-coord $(seq -f "fkv-p%g" 1 "$prefill") $(seq -f "fkv-d%g" 1 "$decode"); do
    ip netns list | awk '{print $1}' | grep -qx "$ns" && die "namespace $ns already exists (not ours to touch)"
  done
  ip link show "$host_veth" > /dev/null 2>&1 && die "link $host_veth already exists in the root namespace"
  mkdir -p "$run_dir"; : > "$state"
  trap 'echo "netns-cluster.sh: setup failed; cleaning up" >&2; down' ERR
  # Probe: can this kernel/container create namespaces at all?
  ip netns add "$net_ns" 2> "$run_dir/netns.err" || { rm -f "$state"; die "cannot create network namespaces: $(cat "$run_dir/netns.err")"; }
  echo "netns $net_ns" >> "$state"
  ip -n "$net_ns" link add "$bridge" type bridge
  ip -n "$net_ns" link set "$bridge" up
  ip -n "$net_ns" link set lo up
  # The root namespace's way in (no rate limit on it: the bench's own requests are tiny).
  ip link add name "$host_veth" type veth peer name p-root netns "$net_ns"; echo "link $host_veth" >> "$state"
  ip -n "$net_ns" link set p-root master "$bridge" up
  ip addr add "$subnet_prefix.254/24" dev "$host_veth"
  ip link set "$host_veth" up
  add_host fkv-coord "$subnet_prefix.1"
  local i
  for i in $(seq 1 "$prefill"); do add_host "fkv-p$i" "$subnet_prefix.$((10 + i))"; done
  for i in $(seq 1 "$decode"); do add_host "fkv-d$i" "$subnet_prefix.$((100 + i))"; done
  trap - ERR

  # Where the workers reach the coordinator, and each decode worker's KV bind/advertise endpoints.
  local worker_coord_ep="$coord_ep"
  local -a kv_args=()
  if [[ -n "$delay" ]]; then
    worker_coord_ep="tcp://$subnet_prefix.1:5556"
    start_relay coordinator fkv-coord "$subnet_prefix.1:5556" "$subnet_prefix.1:5555"
    for i in $(seq 1 "$decode"); do
      start_relay "decode-$i" "fkv-d$i" "$subnet_prefix.$((100 + i)):6001" "127.0.0.1:6000"
    done
    echo "netns-cluster.sh: link delay $delay one way (${delay_s} s) emulated by delay relays: workers -> coordinator" \
      "via $worker_coord_ep, prefill -> decode j via $subnet_prefix.(100+j):6001${rate:+; rate $rate with tbf}" >&2
  fi

  export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
  # --insecure: the emulated hosts' addresses are not loopback, and this script runs without CURVE
  # keys (the namespaces' 10.77.0.0/24 bridge is private to this machine).
  ip netns exec fkv-coord "$bin" coordinator --listen "$coord_ep" --model "$model" --insecure \
    < /dev/null > "$run_dir/coordinator.out" 2> "$run_dir/coordinator.log" &
  echo $! > "$run_dir/coordinator.pid"
  for i in $(seq 1 "$prefill"); do
    # Every process writes only to its own log: one that inherited the caller's stdout would keep
    # `out=$(scripts/netns-cluster.sh up …)` or `… | tail` waiting until it exits.
    ip netns exec "fkv-p$i" "$bin" prefill-worker --coordinator "$worker_coord_ep" --model "$model" \
      < /dev/null > "$run_dir/prefill-$i.out" 2> "$run_dir/prefill-$i.log" &
    echo $! > "$run_dir/prefill-$i.pid"
  done
  for i in $(seq 1 "$decode"); do
    if [[ -n "$delay" ]]; then
      kv_args=(--kv-listen "tcp://127.0.0.1:6000" --kv-advertise "tcp://$subnet_prefix.$((100 + i)):6001")
    else
      kv_args=(--kv-listen "tcp://$subnet_prefix.$((100 + i)):*")
    fi
    ip netns exec "fkv-d$i" "$bin" decode-worker --coordinator "$worker_coord_ep" --model "$model" --insecure \
      "${kv_args[@]}" < /dev/null > "$run_dir/decode-$i.out" 2> "$run_dir/decode-$i.log" &
    echo $! > "$run_dir/decode-$i.pid"
  done
  echo "$coord_ep" > "$run_dir/coordinator.endpoint"
  if ! "$bin" cluster-status --coordinator "$coord_ep" --wait-prefill "$prefill" --wait-decode "$decode" \
       --wait-seconds "$wait_s" > /dev/null 2> "$run_dir/wait.err"; then
    echo "netns-cluster.sh: $(tail -1 "$run_dir/wait.err"); logs in $run_dir" >&2; down; exit 1
  fi
  echo "$coord_ep"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  *) echo "usage: scripts/netns-cluster.sh up|down [--prefill N] [--decode M] [--link RATE[,DELAY]] [--run-dir DIR]" >&2; exit 2 ;;
esac

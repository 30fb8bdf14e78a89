#!/usr/bin/env bash
# A local fastkv cluster: a coordinator plus N prefill and M decode workers, in the background.
#
#   scripts/cluster.sh up [--prefill N] [--decode M] [--model PATH] [--run-dir DIR] [--listen ENDPOINT]
#                         [--max-kv-bytes B] [--threads T] [--timeout S] [--curve]
#                         [--http HOST:PORT | --no-http] [--default-compression JSON] [--model-args "ARGS"]
#   scripts/cluster.sh status [--run-dir DIR]
#   scripts/cluster.sh down   [--run-dir DIR] [--grace S]
#
# `up` writes one pid file and one log per process into the run dir (default runs/cluster), waits
# (at most --timeout seconds, default 60) until every worker has registered, and prints the
# coordinator endpoint. `down` stops only the processes whose pid files it wrote, and only if the
# pid still belongs to a fastkv process: SIGTERM first (workers drain: they finish what they hold,
# deregister and exit), SIGKILL for whatever is still running after --grace seconds (default 40,
# past the workers' 30 s drain timeout). It leaves no process, pid file or endpoint file behind.
#
# --curve: CURVE on every link. `up` generates a key pair per role with `fastkv keys generate` into
# RUN_DIR/keys (coordinator, prefill-i, decode-i, client; fresh each time), writes
# RUN_DIR/keys/authorized_keys (all their public keys), and starts every role with its key files.
# Clients then need the client key and the coordinator's public key (printed on stderr):
#   FASTKV_CURVE_SECRET_KEY=RUN_DIR/keys/client.secret FASTKV_CURVE_SERVER_KEY=RUN_DIR/keys/coordinator.public
# `status` uses them by itself.
#
# --model-args: model options given to every process that loads the model (coordinator, prefill and
# decode workers), word-split, e.g. "--max-context 4096" for a Llama-3 checkpoint (131072 positions
# by default, whose KV plan alone may not fit) or "--kv-dtype f16".
#
# Unless --no-http, `up` also starts the OpenAI-compatible gateway `fastkv-http` on --http (default
# 127.0.0.1:8000, loopback only), waits until its /ready answers 200 and writes its URL to
# <run dir>/http.url (and to stderr); `down` stops it with the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"; shift || true
prefill=1; decode=1; model="models/SmolLM2-135M-Instruct.Q4_1.gguf"; run_dir="runs/cluster"
listen="tcp://127.0.0.1:5555"; max_kv=""; threads=""; wait_s=60; grace=40; curve=0
http="127.0.0.1:8000"; default_compression=""; model_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefill) prefill="$2"; shift 2 ;;
    --decode) decode="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --run-dir) run_dir="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --max-kv-bytes) max_kv="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --timeout) wait_s="$2"; shift 2 ;;
    --grace) grace="$2"; shift 2 ;;
    --curve) curve=1; shift ;;
    --http) http="$2"; shift 2 ;;
    --no-http) http=""; shift ;;
    --default-compression) default_compression="$2"; shift 2 ;;
    --model-args) read -r -a model_args <<< "$2"; shift 2 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

bin="${FASTKV_BIN:-$(swift build -c release --show-bin-path 2>/dev/null)/fastkv}"
http_bin="${FASTKV_HTTP_BIN:-$(dirname "$bin")/fastkv-http}"

# The pid in $1 is alive and is a fastkv process (for pid files, which may be stale).
is_fastkv() { [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' < "/proc/$1/cmdline" | grep -q "fastkv"; }
# The child this script just started (pid $1) has not exited. Not is_fastkv: between fork and exec
# the child's cmdline is still this script's, and a loaded machine can be caught in that window.
still_running() { [[ -r "/proc/$1/stat" ]] && [[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

endpoint_file="$run_dir/coordinator.endpoint"
keys="$run_dir/keys"

# The CURVE flags of role $1 (nothing without keys): its secret key, the coordinator's public key
# (roles that connect to it), the authorized keys (roles that bind: coordinator, decode workers).
curve_args() {
  [[ -f "$keys/$1.secret" ]] || return 0
  local args=(--curve-secret-key "$keys/$1.secret")
  [[ "$1" != coordinator ]] && args+=(--curve-server-key "$keys/coordinator.public")
  [[ "$1" == coordinator || "$1" == decode-* ]] && args+=(--authorized-keys "$keys/authorized_keys")
  echo "${args[@]}"
}

generate_keys() {
  rm -rf "$keys"
  local name
  for name in coordinator client $(seq -f "prefill-%g" 1 "$prefill") $(seq -f "decode-%g" 1 "$decode"); do
    "$bin" keys generate --out "$keys" --name "$name" > /dev/null
  done
  cat "$keys"/*.public > "$keys/authorized_keys"
}

down() {
  [[ -d "$run_dir" ]] || { echo "cluster.sh: nothing to stop in $run_dir"; return 0; }
  local f pid stopped=0
  for f in "$run_dir"/*.pid; do
    [[ -e "$f" ]] || continue
    pid=$(cat "$f")
    if is_fastkv "$pid"; then kill -TERM "$pid" 2>/dev/null && stopped=$((stopped + 1)); fi
  done
  # Wait (bounded) for them to drain and exit, then force.
  for _ in $(seq 1 $((grace * 10))); do
    local alive=0
    for f in "$run_dir"/*.pid; do [[ -e "$f" ]] && is_fastkv "$(cat "$f")" && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for f in "$run_dir"/*.pid; do
    [[ -e "$f" ]] || continue
    pid=$(cat "$f"); is_fastkv "$pid" && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  rm -f "$endpoint_file" "$run_dir/http.url"
  echo "cluster.sh: stopped $stopped processes ($run_dir)"
}

status() {
  [[ -f "$endpoint_file" ]] || { echo "cluster.sh: no cluster in $run_dir" >&2; exit 1; }
  # shellcheck disable=SC2046  # key paths contain no spaces (the run dir's do not either)
  "$bin" cluster-status --coordinator "$(cat "$endpoint_file")" $(curve_args client)
}

up() {
  [[ -x "$bin" ]] || { echo "cluster.sh: $bin is missing; run swift build -c release --product fastkv" >&2; exit 1; }
  [[ -e "$model" ]] || { echo "cluster.sh: model $model is missing; run scripts/fetch-model.sh" >&2; exit 1; }
  if [[ -n "$http" && ! -x "$http_bin" ]]; then
    echo "cluster.sh: $http_bin is missing; run swift build -c release --product fastkv-http (or pass --no-http)" >&2; exit 1
  fi
  mkdir -p "$run_dir"
  for f in "$run_dir"/*.pid; do
    if [[ -e "$f" ]] && is_fastkv "$(cat "$f")"; then
      echo "cluster.sh: a cluster is already running in $run_dir (scripts/cluster.sh down --run-dir $run_dir)" >&2; exit 1
    fi
  done
  rm -f "$run_dir"/*.pid
  if [[ $curve == 1 ]]; then generate_keys; else rm -rf "$keys"; fi
  local thread_args=() kv_args=()
  [[ -n "$threads" ]] && thread_args=(--threads "$threads")
  [[ -n "$max_kv" ]] && kv_args=(--max-kv-bytes "$max_kv")
  export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
  # shellcheck disable=SC2046
  "$bin" coordinator --listen "$listen" --model "$model" ${model_args[@]+"${model_args[@]}"} "${thread_args[@]}" $(curve_args coordinator) \
    < /dev/null > "$run_dir/coordinator.out" 2> "$run_dir/coordinator.log" &
  echo $! > "$run_dir/coordinator.pid"
  # The coordinator prints the endpoint it bound (the port may have been chosen by the OS).
  local endpoint=""
  for _ in $(seq 1 $((wait_s * 10))); do
    endpoint=$(sed -n 's/^coordinator listening on //p' "$run_dir/coordinator.out" 2>/dev/null || true)
    [[ -n "$endpoint" ]] && break
    still_running "$(cat "$run_dir/coordinator.pid")" || { cat "$run_dir/coordinator.log" >&2; down; exit 1; }
    sleep 0.1
  done
  [[ -n "$endpoint" ]] || { echo "cluster.sh: the coordinator did not start within ${wait_s}s" >&2; down; exit 1; }
  echo "$endpoint" > "$endpoint_file"
  local i
  for i in $(seq 1 "$prefill"); do
    # shellcheck disable=SC2046
    "$bin" prefill-worker --coordinator "$endpoint" --model "$model" ${model_args[@]+"${model_args[@]}"} "${thread_args[@]}" $(curve_args "prefill-$i") \
      < /dev/null > "$run_dir/prefill-$i.out" 2> "$run_dir/prefill-$i.log" &
    echo $! > "$run_dir/prefill-$i.pid"
  done
  for i in $(seq 1 "$decode"); do
    # shellcheck disable=SC2046
    "$bin" decode-worker --coordinator "$endpoint" --model "$model" ${model_args[@]+"${model_args[@]}"} "${thread_args[@]}" "${kv_args[@]}" $(curve_args "decode-$i") \
      < /dev/null > "$run_dir/decode-$i.out" 2> "$run_dir/decode-$i.log" &
    echo $! > "$run_dir/decode-$i.pid"
  done
  # shellcheck disable=SC2046
  if ! "$bin" cluster-status --coordinator "$endpoint" $(curve_args client) --wait-prefill "$prefill" --wait-decode "$decode" \
       --wait-seconds "$wait_s" > /dev/null 2> "$run_dir/wait.err"; then
    echo "cluster.sh: $(tail -1 "$run_dir/wait.err"); logs in $run_dir" >&2; down; exit 1
  fi
  if [[ $curve == 1 ]]; then
    echo "cluster.sh: CURVE on; clients: export FASTKV_CURVE_SECRET_KEY=$keys/client.secret FASTKV_CURVE_SERVER_KEY=$keys/coordinator.public" >&2
  fi
  [[ -n "$http" ]] && start_http "$endpoint"
  echo "$endpoint"
}

# The gateway, once the workers are up; its URL goes to http.url. Fails (and stops the cluster) if it
# does not bind or its /ready does not answer 200 in time.
start_http() {
  local compression_args=()
  [[ -n "$default_compression" ]] && compression_args=(--default-compression "$default_compression")
  "$http_bin" --coordinator "$1" --http "$http" --model "$model" "${compression_args[@]}" $(curve_args client) \
    < /dev/null > "$run_dir/http.out" 2> "$run_dir/http.log" &
  echo $! > "$run_dir/http.pid"
  local url=""
  for _ in $(seq 1 $((wait_s * 10))); do
    url=$(sed -n 's/^fastkv-http listening on \([^ ]*\).*/\1/p' "$run_dir/http.out" 2>/dev/null || true)
    [[ -n "$url" ]] && break
    still_running "$(cat "$run_dir/http.pid")" || { echo "cluster.sh: fastkv-http exited:" >&2; tail -5 "$run_dir/http.log" >&2; down >&2; exit 1; }
    sleep 0.1
  done
  [[ -n "$url" ]] || { echo "cluster.sh: fastkv-http did not start within ${wait_s}s" >&2; down >&2; exit 1; }
  for _ in $(seq 1 $((wait_s * 10))); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/ready" || true)" == 200 ]] && break
    sleep 0.1
  done
  echo "$url" > "$run_dir/http.url"
  echo "cluster.sh: OpenAI-compatible HTTP API at $url/v1 (metrics at $url/metrics)" >&2
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|status|down [options]" >&2; exit 2 ;;
esac

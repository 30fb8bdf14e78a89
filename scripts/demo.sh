#!/usr/bin/env bash
# The demo: installs what is missing, fetches the model, builds in release, brings up a local
# cluster (1 prefill + 1 decode worker), answers a chat prompt with FastKV-compressed KV transfer,
# prints the savings report, and brings the cluster down again (also on error or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fastkv
bin=$(swift build -c release --show-bin-path)/fastkv
prompt="${1:-What is the capital of France?}"
run_dir="runs/demo-cluster"
trap 'scripts/cluster.sh down --run-dir "$run_dir" >/dev/null || true' EXIT
endpoint=$(scripts/cluster.sh up --prefill 1 --decode 1 --run-dir "$run_dir" --listen "tcp://127.0.0.1:*")
echo "cluster up at $endpoint"
echo "> $prompt"
"$bin" submit --coordinator "$endpoint" --chat --prompt "$prompt" --max-tokens 64 \
  --method fastkv --kv-rate 0.1 --tsp-rate 0.2

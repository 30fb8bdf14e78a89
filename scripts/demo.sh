#!/usr/bin/env bash
# The demo: installs what is missing, fetches the model, builds in release, brings up a local cluster
# (1 prefill + 1 decode worker) and
#   1. answers a chat prompt through the cluster with FastKV (constant budgets: a 16-token prompt is
#      below the 512-entry budget, so - as in the reference - nothing is dropped; the answer is exact);
#   2. sends a ~2500-token long-context prompt (a pass key hidden in filler) twice, with full KV and
#      with FastKV (r = 0.1, ρ = 0.2), and prints both answers and what FastKV saved on the wire and
#      in TTFT.
#   3. asks the same question over the OpenAI-compatible HTTP API, once with curl and once with the
#      official openai Python client (streaming), with FastKV per request (`kv_compression`).
# The cluster is brought down on exit (also on error or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fastkv
swift build -c release --product fastkv-http
bin=$(swift build -c release --show-bin-path)/fastkv
prompt="${1:-What is the capital of France?}"
run_dir="runs/demo-cluster"
trap 'scripts/cluster.sh down --run-dir "$run_dir" >/dev/null || true' EXIT
endpoint=$(scripts/cluster.sh up --prefill 1 --decode 1 --run-dir "$run_dir" --listen "tcp://127.0.0.1:*" \
  --http 127.0.0.1:0)
url=$(cat "$run_dir/http.url")
echo "cluster up at $endpoint; HTTP API at $url/v1"
echo
echo "> $prompt"
"$bin" submit --coordinator "$endpoint" --chat --prompt "$prompt" --max-tokens 64 \
  --method fastkv --kv-budget 512 --tsp-len 2048

echo
echo "== long context: a pass key hidden in ~2500 tokens of filler, full KV vs FastKV (r 0.1, ρ 0.2)"
filler="The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
key=$(( (RANDOM % 90000) + 10000 ))
prompt_file="$run_dir/passkey.txt"
{
  printf 'There is an important piece of information hidden inside a lot of irrelevant text. Find it and memorize it.\n'
  for _ in $(seq 40); do printf '%s' "$filler"; done
  printf ' The pass key is %s. Remember it. %s is the pass key. ' "$key" "$key"
  for _ in $(seq 60); do printf '%s' "$filler"; done
  printf '\nWhat is the pass key? The pass key is'
} > "$prompt_file"
for method in full fastkv; do
  extra=()
  [ "$method" = fastkv ] && extra=(--kv-rate 0.1 --tsp-rate 0.2)
  "$bin" submit --coordinator "$endpoint" --prompt-file "$prompt_file" --max-tokens 8 --method "$method" \
    "${extra[@]}" --json > "$run_dir/$method.json"
done
python3 - "$key" "$run_dir/full.json" "$run_dir/fastkv.json" <<'PY'
import json, sys
key, full, fast = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
print(f"pass key {key}; prompt {full['prompt_tokens']} tokens")
print(f"{'':8} {'answer':22} {'wire bytes':>12} {'TTFT ms':>9} {'prefill ms':>10} {'2nd token ms':>12}")
for name, r in (("full", full), ("fastkv", fast)):
    ans = r["text"].strip().replace("\n", " ")[:20]
    ok = "hit" if key in r["text"] else "miss"
    second = r.get("time_to_second_token_ms") or 0
    print(f"{name:8} {ans + ' (' + ok + ')':22} {r['wire_bytes']:>12,} {r['ttft_ms']:>9.0f} {r['prefill_ms']:>10.0f} {second:>12.0f}")
print(f"FastKV sent {fast['wire_bytes'] / full['wire_bytes']:.3f}x the bytes of full KV "
      f"and reached the first token {full['ttft_ms'] / fast['ttft_ms']:.2f}x sooner.")
PY

echo
echo "== the same question over HTTP (OpenAI-compatible API at $url/v1)"
echo "\$ curl $url/v1/chat/completions -d '{\"model\": \"SmolLM2-135M-Instruct.Q4_1\", \"messages\": [...], \"kv_compression\": {\"method\": \"fastkv\", ...}}'"
request=$(python3 -c 'import json,sys; print(json.dumps({"model": "SmolLM2-135M-Instruct.Q4_1", "max_tokens": 64, "temperature": 0,
  "messages": [{"role": "user", "content": sys.argv[1]}], "kv_compression": {"method": "fastkv", "kv_budget": 512, "tsp_len": 2048}}))' "$prompt")
curl -s "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$request" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["choices"][0]["message"]["content"])
print(f"usage {r[\"usage\"]}; fastkv {r[\"fastkv\"][\"method\"]}: {r[\"fastkv\"][\"payload_bytes\"]:,} of {r[\"fastkv\"][\"full_kv_wire_bytes\"]:,} KV bytes")'
echo
echo "\$ python3 (openai client, streaming)"
.venv/bin/python3 - "$url" "$prompt" <<'PY'
import sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused", max_retries=0)
stream = client.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1", temperature=0, max_tokens=64, stream=True,
                                        messages=[{"role": "user", "content": sys.argv[2]}],
                                        stream_options={"include_usage": True},
                                        extra_body={"kv_compression": {"method": "fastkv", "kv_rate": 0.1, "tsp_rate": 0.2}})
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    elif chunk.usage:
        print(f"\n(usage: {chunk.usage.prompt_tokens} prompt + {chunk.usage.completion_tokens} generated tokens)")
PY

#!/usr/bin/env bash
# The FastKV paper's comparison, reproduced on this machine in one command (issue 14, item 4):
# TTFT, decode tok/s and accuracy of every KV method at the longest context the model allows,
#   (a) the current paper's setting: r = 0.1, ρ = 0.2, proportional budgets, against full KV
#       (paper, A100: 1.82× prefill, 2.87× decode);
#   (b) the first version's setting: constant budget 512, tsp_len 2048, against HeadKV
#       (paper: 2.00× TTFT, 1.40× decode throughput).
# Speed comes from `fastkv bench-prefill` (interleaved rounds, medians), accuracy from `fastkv eval
# suite` (RULER-style tasks, every task, plain prompts). Each step writes into --out and is skipped
# when its output is already there (the suite resumes cell by cell), so an interrupted run continues
# and the speed steps can be rerun alone on a quiet machine (--steps bench,table).
#
#   scripts/paper-comparison.sh [--out runs/paper] [--samples 5] [--rounds 3] [--steps suite,bench,table]
#                               [--model PATH] [--suite-length 8000] [--bench-length 8160]
set -euo pipefail
cd "$(dirname "$0")/.."

out=runs/paper
samples=5
rounds=3
steps=suite,bench,table
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
suite_length=8000
bench_length=8160
methods=full,fastkv,snapkv,streamingllm,gemfilter,adakv,headkv,h2o,pyramidinfer
tasks=niah_single,niah_multikey,niah_multivalue,niah_multiquery,vt,cwe,fwe,qa
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=$2; shift 2 ;;
        --samples) samples=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --model) model=$2; shift 2 ;;
        --suite-length) suite_length=$2; shift 2 ;;
        --bench-length) bench_length=$2; shift 2 ;;
        --methods) methods=$2; shift 2 ;;
        --tasks) tasks=$2; shift 2 ;;
        -h|--help) sed -n 2,16p "$0"; exit 0 ;;
        *) echo "paper-comparison: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
B=${FASTKV_BIN:-.build/release/fastkv}   # FASTKV_BIN: another build, e.g. a copy while you rebuild
[ -x "$B" ] || { echo "paper-comparison: $B is missing; run: swift build -c release --product fastkv" >&2; exit 1; }
[ -f "$model" ] || { echo "paper-comparison: no model at $model (scripts/setup.sh fetches the default one)" >&2; exit 1; }
mkdir -p "$out"
has_step() { [[ ",$steps," == *",$1,"* ]]; }

# The two settings: name, KV flags of the suite, KV flags of the bench.
settings=(a b)
suite_flags_a=(--kv-rate 0.1 --kv-budget "" --tsp-rate 0.2)
bench_flags_a=(--kv-rate 0.1 --tsp-rate 0.2)
suite_flags_b=(--kv-rate "" --kv-budget 512 --tsp-len 2048)
bench_flags_b=(--kv-budget 512 --tsp-len 2048)

for s in "${settings[@]}"; do
    declare -n sflags="suite_flags_$s" bflags="bench_flags_$s"
    if has_step suite; then
        echo "== setting ($s): accuracy, eval suite at $suite_length tokens, $samples samples per task"
        "$B" eval suite --model "$model" --tasks "$tasks" --lengths "$suite_length" --templates plain \
            --samples "$samples" --methods "$methods" "${sflags[@]}" --out "$out/suite-$s"
    fi
    if has_step bench; then
        if [ -s "$out/bench-$s.json" ]; then
            echo "== setting ($s): speed already measured ($out/bench-$s.json; delete it to remeasure)"
        else
            echo "== setting ($s): speed, bench-prefill at $bench_length tokens, $rounds interleaved rounds"
            "$B" bench-prefill --model "$model" --lengths "$bench_length" --methods "$methods" --runs "$rounds" \
                --decode-tokens 16 "${bflags[@]}" --json "$out/bench-$s.json.part" | tee "$out/bench-$s.txt"
            mv "$out/bench-$s.json.part" "$out/bench-$s.json"
        fi
    fi
    unset -n sflags bflags
done

if has_step table; then
    python3 scripts/paper-table.py "$out" | tee "$out/README.md"
fi

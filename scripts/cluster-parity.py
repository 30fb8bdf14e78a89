#!/usr/bin/env python3
"""Checks a model on a real 1P+1D cluster: the answer and the KV bytes on the wire against one process.

For each method it runs `fastkv generate --json --selection-out` (aggregated, no transfer) and the same
request through a fresh `scripts/cluster.sh` cluster with `fastkv submit --json --wire-dtype f32`, then
checks that
  - the greedy tokens are the same;
  - the KV payload on the wire is exactly the entries the selection kept (Σ over layers and KV heads)
    times the bytes of one entry (K and V of one head, f32), which `full_kv_wire_bytes` gives per
    (layer, head, token) — so the prefill worker shipped what the plan reserved, no more;
  - wire bytes = payload + headers.
It prints one row per method (prompt tokens, wire MB, the full-KV MB, their ratio, TTFT) and exits 1 on
any mismatch. Any GGUF or HF checkpoint the engine loads works, e.g. the 1B-shaped one:

    scripts/cluster-parity.py --model models/llama-1b-shape.q8_0.gguf --model-args "--max-context 4096"

Methods are `fastkv submit` knob sets (default: full, FastKV r 0.1 ρ 0.2, SnapKV r 0.1, GemFilter r 0.1).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

METHODS = {
    "full": ["--method", "full"],
    "fastkv": ["--method", "fastkv", "--kv-rate", "0.1", "--tsp-rate", "0.2"],
    "snapkv": ["--method", "snapkv", "--kv-rate", "0.1"],
    "gemfilter": ["--method", "gemfilter", "--kv-rate", "0.1"],
}


def run(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        sys.exit(f"cluster-parity: {' '.join(map(shlex.quote, cmd))} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--model-args", default="", help="model options for every process (e.g. \"--max-context 4096\")")
    ap.add_argument("--fastkv", default=None, help="fastkv binary (default: the release build)")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    ap.add_argument("--prompt-words", type=int, default=400, help="words of seeded filler text in the prompt")
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=600, help="seconds per command")
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    binary = args.fastkv or os.path.join(
        subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], capture_output=True, text=True).stdout.strip(),
        "fastkv")
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        sys.exit(f"cluster-parity: unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    model_args = shlex.split(args.model_args)
    # Seeded, model-independent prompt text: numbered sentences, so no two spans are alike.
    words = ["river", "stone", "lantern", "orchard", "copper", "meadow", "harbor", "violet", "ember", "willow"]
    sentences, n = [], 0
    while n < args.prompt_words:
        i = len(sentences)
        s = f"Item {i}: the {words[i % 10]} near the {words[(i * 7 + 3) % 10]} holds number {(i * 7919) % 10007}."
        sentences.append(s)
        n += len(s.split())
    prompt = " ".join(sentences) + "\nQuestion: what number does item 3 hold?\nAnswer:"

    run_dir = tempfile.mkdtemp(prefix="fastkv-parity-")
    env = dict(os.environ, FASTKV_BIN=binary)
    up = ["scripts/cluster.sh", "up", "--prefill", "1", "--decode", "1", "--model", args.model, "--run-dir", run_dir,
          "--no-http", "--timeout", str(int(args.timeout))]
    if model_args:
        up += ["--model-args", args.model_args]
    p = subprocess.run(up, capture_output=True, text=True, env=env, timeout=args.timeout + 60)
    if p.returncode != 0:
        sys.exit(f"cluster-parity: cluster.sh up failed:\n{p.stderr[-2000:]}")
    endpoint = open(os.path.join(run_dir, "coordinator.endpoint")).read().strip()
    failures = []
    print(f"model {args.model}  ({args.model_args or 'default options'}), 1 prefill + 1 decode worker, f32 wire")
    print("| method | prompt tokens | tokens equal | wire MB | full KV MB | ratio | payload = kept entries | TTFT ms |")
    print("|---|---:|---|---:|---:|---:|---|---:|")
    try:
        for m in methods:
            knobs = ["--prompt", prompt, "--max-tokens", str(args.max_tokens)] + METHODS[m]
            selection = os.path.join(run_dir, f"selection-{m}.json")
            ref = json.loads(run([binary, "generate", "--model", args.model] + model_args + knobs
                                 + ["--json", "--selection-out", selection], args.timeout))
            got = json.loads(run([binary, "submit", "--coordinator", endpoint] + knobs
                                 + ["--wire-dtype", "f32", "--json", "--timeout", str(args.timeout)], args.timeout + 30))
            record = json.load(open(selection))
            layers = record["layers"]
            heads = len(layers[0]["kept"])
            kept = sum(len(h) for layer in layers for h in layer["kept"])
            n = got["prompt_tokens"]
            entry_bytes = got["full_kv_wire_bytes"] // (len(layers) * heads * n)
            same_tokens = got["tokens"] == ref["tokens"]
            payload_ok = got["payload_bytes"] == kept * entry_bytes and got["wire_bytes"] == got["payload_bytes"] + got["header_bytes"]
            if not same_tokens:
                failures.append(f"{m}: cluster tokens {got['tokens']} vs generate {ref['tokens']}")
            if not payload_ok:
                failures.append(f"{m}: payload {got['payload_bytes']} B vs kept {kept} × {entry_bytes} B = {kept * entry_bytes} B"
                                f" (wire {got['wire_bytes']}, headers {got['header_bytes']})")
            print(f"| {m} | {n} | {'yes' if same_tokens else 'NO'} | {got['wire_bytes'] / 1e6:.2f} | "
                  f"{got['full_kv_wire_bytes'] / 1e6:.2f} | {got['wire_bytes'] / got['full_kv_wire_bytes']:.3f} | "
                  f"{'yes' if payload_ok else 'NO'} ({kept} × {entry_bytes} B) | {got['ttft_ms']:.0f} |", flush=True)
    finally:
        subprocess.run(["scripts/cluster.sh", "down", "--run-dir", run_dir], capture_output=True, env=env, timeout=120)
    for f in failures:
        print("cluster-parity: " + f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""fastkv's engine against llama.cpp's llama-bench on the same machine, interleaved.

Each round runs `fastkv bench-engine --runs 1` and then `llama-bench -r 1` on the same GGUF (and on
an F32 GGUF if given), so a change in the machine's load hits both; the table shows the median over
rounds of every figure and of the per-round ratio fastkv / llama.cpp.

    scripts/bench-vs-llamacpp.py --llama-bench /path/to/llama-bench [--f32 /path/model-f32.gguf]
        [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--rounds 5] [--threads 2]

llama.cpp is not part of this repository; build it yourself (the README says how it was built here).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

PREFILL = [512, 2048]
DECODE = [512, 2048, 4096]
DECODE_TOKENS = 64


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench-vs-llamacpp: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    return p.stdout


def fastkv_round(binary, model, threads):
    out = run([binary, "bench-engine", "--model", model, "--threads", str(threads), "--runs", "1",
               "--lengths", ",".join(map(str, PREFILL)), "--decode-contexts", ",".join(map(str, DECODE)),
               "--decode-tokens", str(DECODE_TOKENS)])
    figures = {}
    section = None
    for line in out.splitlines():
        if line.startswith("| prefill tokens"):
            section = "pp"
        elif line.startswith("| decode after"):
            section = "tg"
        m = re.match(r"\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", line)
        if m and section:
            figures[(section, int(m.group(1)))] = float(m.group(3))
    return figures


def llama_round(binary, model, threads):
    figures = {}
    pp = json.loads(run([binary, "-m", model, "-t", str(threads), "-r", "1", "-o", "json",
                         "-p", ",".join(map(str, PREFILL)), "-n", "0"]))
    tg = json.loads(run([binary, "-m", model, "-t", str(threads), "-r", "1", "-o", "json", "-p", "0",
                         "-n", str(DECODE_TOKENS), "-d", ",".join(map(str, DECODE))]))
    for r in pp:
        figures[("pp", r["n_prompt"])] = r["avg_ts"]
    for r in tg:
        figures[("tg", r.get("n_depth", 0))] = r["avg_ts"]
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--f32", help="an F32 GGUF of the same model for llama.cpp's F32 figures")
    ap.add_argument("--fastkv", default=None, help="fastkv binary (default: .build/release/fastkv)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    binary = a.fastkv or os.path.join(".build", "release", "fastkv")
    for path, what in [(binary, "fastkv binary"), (a.llama_bench, "llama-bench"), (a.model, "model")] + \
            ([(a.f32, "F32 GGUF")] if a.f32 else []):
        if not os.path.exists(path):
            sys.exit(f"bench-vs-llamacpp: {what} {path} does not exist")
    if a.rounds < 1:
        sys.exit("bench-vs-llamacpp: --rounds must be >= 1")

    others = [("llama.cpp " + os.path.basename(a.model), a.model)] + ([("llama.cpp F32", a.f32)] if a.f32 else [])
    rows = {}
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        ours = fastkv_round(binary, a.model, a.threads)
        for name, path in others:
            theirs = llama_round(a.llama_bench, path, a.threads)
            for key, value in theirs.items():
                if key in ours:
                    rows.setdefault((key, name), []).append((ours[key], value))

    print(f"\n{a.rounds} interleaved rounds, {a.threads} threads; medians; ratio = fastkv / llama.cpp per round\n")
    print("| test | against | fastkv tok/s | llama.cpp tok/s | ratio (median) | ratios per round |")
    print("|---|---|---:|---:|---:|---|")
    for (key, name), pairs in sorted(rows.items()):
        kind, n = key
        label = f"pp{n}" if kind == "pp" else f"tg{DECODE_TOKENS} @ {n}"
        ratios = [o / t for o, t in pairs]
        print(f"| {label} | {name} | {statistics.median(o for o, _ in pairs):.1f} | "
              f"{statistics.median(t for _, t in pairs):.1f} | {statistics.median(ratios):.2f} | "
              f"{' '.join(f'{x:.2f}' for x in ratios)} |")


if __name__ == "__main__":
    main()

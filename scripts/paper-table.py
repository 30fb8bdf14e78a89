#!/usr/bin/env python3
"""The paper-comparison table from scripts/paper-comparison.sh's output folder (standard library only).

For each setting it joins bench-prefill's speed (bench-S.json: medians of interleaved rounds) with the
eval suite's accuracy (suite-S/results.json): the accuracy of a method is the mean of its task scores
over the cells where full KV is above chance (the suite's own rule), with a normal-approximation 95 %
Wilson interval of the pooled samples (every sample of those cells as one trial)."""
import json
import math
import os
import sys

SETTINGS = [
    ("a", "current paper: r = 0.1, ρ = 0.2, proportional budgets", "full",
     "paper (A100): FastKV 1.82× prefill, 2.87× decode against full KV"),
    ("b", "first version: constant budget C = 512, tsp_len 2048", "headkv",
     "paper (A100): FastKV 2.00× TTFT, 1.40× decode throughput against HeadKV"),
]


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def accuracy(suite):
    """method → (mean score, ±95 % half-width, cells, samples per cell, complete)."""
    if suite is None:
        return {}
    per = {}
    for row in suite["rows"]:
        if row.get("near_chance"):
            continue
        per.setdefault(row["method"], []).append((row["score"], row["samples"]))
    out = {}
    for method, cells in per.items():
        mean = sum(p for p, _ in cells) / len(cells)
        out[method] = (mean, wilson(cells), len(cells), cells[0][1])
    return out


def wilson(cells, z=1.96):
    """95 % Wilson interval of the pooled samples (Σ p·n found of Σ n), as (low, high)."""
    n = sum(k for _, k in cells)
    p = sum(s * k for s, k in cells) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def near_chance_tasks(suite):
    if suite is None:
        return []
    return sorted({r["task"] for r in suite["rows"] if r.get("near_chance") and r["method"] == "full"})


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "runs/paper"
    print(f"# The paper's comparison on this machine ({folder})\n")
    for key, title, baseline, paper in SETTINGS:
        bench = load(os.path.join(folder, f"bench-{key}.json"))
        suite = load(os.path.join(folder, f"suite-{key}", "results.json"))
        acc = accuracy(suite)
        print(f"## ({key}) {title}; ratios against {baseline}\n")
        if bench is None:
            print(f"(no bench-{key}.json yet: run with --steps bench)\n")
        if suite is None:
            print(f"(no suite-{key}/results.json yet: run with --steps suite)\n")
        if bench:   # the longest prompt, if the file holds several
            longest = max(r["prompt_tokens"] for r in bench)
            bench = [r for r in bench if r["prompt_tokens"] == longest]
        speed = {r["method"]: r for r in bench} if bench else {}
        base = speed.get(baseline)
        methods = list(speed) or list(acc)
        for m in acc:
            if m not in methods:
                methods.append(m)
        print("| method | TTFT ms | TTFT ratio | decode tok/s | decode ratio | KV kept | accuracy % [95 %] |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for m in methods:
            r = speed.get(m)
            if r and base:
                ttft = f"{r['ttft_ms']:.0f}"
                tr = f"{base['ttft_ms'] / r['ttft_ms']:.2f}"
                dec = f"{r['decode_tokens_per_s']:.1f}"
                dr = f"{r['decode_tokens_per_s'] / base['decode_tokens_per_s']:.2f}"
                kv = f"{100 * r['kv_kept_share']:.1f} %"
            else:
                ttft = tr = dec = dr = kv = "—"
            if m in acc:
                mean, (low, high), cells, n = acc[m]
                a = f"{100 * mean:.1f} [{100 * low:.0f}–{100 * high:.0f}]"
            else:
                a = "—"
            bold = "**" if m == "fastkv" else ""
            print(f"| {bold}{m}{bold} | {ttft} | {tr} | {dec} | {dr} | {kv} | {a} |")
        print()
        if bench:
            print(f"Speed: bench-prefill at {bench[0]['prompt_tokens']} prompt tokens, 16 greedy decode steps "
                  f"right after the prefill; TTFT ratio = {baseline} ÷ method, decode ratio = method ÷ {baseline}.")
        if suite:
            cells = next(iter(acc.values()))[2] if acc else 0
            n = next(iter(acc.values()))[3] if acc else 0
            left = near_chance_tasks(suite)
            print(f"Accuracy: eval suite at {suite['plan']['lengths']} tokens, plain prompts, {n} samples per task, "
                  f"mean over the {cells} tasks where full KV is above chance"
                  + (f" (left out, full KV near chance: {', '.join(left)})" if left else "")
                  + ("" if suite.get("complete") else "; **run not complete**") + ".")
        print(f"{paper}.\n")


if __name__ == "__main__":
    main()

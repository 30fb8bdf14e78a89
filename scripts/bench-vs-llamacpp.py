#!/usr/bin/env python3
"""fastkv's engine against llama.cpp's llama-bench (and llama-batched-bench) on the same machine, interleaved.

Each round runs `fastkv bench-engine --runs 1` and then `llama-bench -r 1` on the same GGUF (and on
an F32 GGUF if given), and `llama-batched-bench` when given, so a change in the machine's load hits
both; the table shows the median over rounds of every figure and of the per-round ratio
fastkv / llama.cpp. Tests: prefill pp512, pp2048, pp8192; decode tg64 after 512, 2048, 4096 and 8000
tokens; batched decode (total tok/s over B sequences after one shared 512-token prompt, 64 steps:
fastkv's `bench-engine --batch-sequences`, llama.cpp's `llama-batched-bench -pps`, S_TG) at B = 1, 4,
16, 64. The header names the CPU and fastkv's kernel path.

    scripts/bench-vs-llamacpp.py --llama-bench /path/to/llama-bench [--f32 /path/model-f32.gguf]
        [--llama-batched-bench /path/to/llama-batched-bench]
        [--model models/SmolLM2-135M-Instruct.Q4_1.gguf] [--rounds 5] [--threads 2]
        [--prefill 512,2048] [--decode 512,2048,4096] [--fastkv-args "--max-context 4096"]

With --prefill "" --decode "" and --llama-batched-bench, only the batched figures are measured.

Any GGUF works (e.g. the Llama-shaped ones of scripts/make-llama-checkpoint.py). Each process's
peak RSS (wait4's ru_maxrss) is reported too, the largest over rounds.

llama.cpp is not part of this repository; build it yourself (the README says how it was built here).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

PREFILL = [512, 2048, 8192]
DECODE = [512, 2048, 4096, 8000]
DECODE_TOKENS = 64
BATCH = [1, 4, 16, 64]
BATCH_CONTEXT = 512


PEAK_RSS = {}   # program name -> largest ru_maxrss seen, bytes


def run(cmd, name):
    """Runs cmd to completion; returns its stdout and records its peak RSS (wait4) under `name`."""
    with tempfile.TemporaryFile(mode="w+") as err:   # a file, so a chatty stderr cannot block the pipe
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        PEAK_RSS[name] = max(PEAK_RSS.get(name, 0), usage.ru_maxrss * 1024)
        if p.returncode != 0:
            err.seek(0)
            sys.exit(f"bench-vs-llamacpp: {' '.join(cmd)} failed ({p.returncode}):\n{err.read()[-2000:]}")
    return out


def fastkv_round(binary, model, threads, extra, batch):
    """Figures keyed (kind, n): ("pp", tokens), ("tg", context), ("batch", sequences); and the header
    line naming the CPU and kernel path."""
    # Without llama-batched-bench there is nothing to compare the batched figures with: none are run.
    batch_args = (["--batch-sequences", ",".join(map(str, BATCH)), "--batch-context", str(BATCH_CONTEXT)] if batch
                  else ["--batch-sequences", ""])
    out = run([binary, "bench-engine", "--model", model, "--threads", str(threads), "--runs", "1",
               "--lengths", ",".join(map(str, PREFILL)), "--decode-contexts", ",".join(map(str, DECODE)),
               "--decode-tokens", str(DECODE_TOKENS)] + batch_args + extra, "fastkv " + os.path.basename(model))
    return parse_fastkv(out)


def parse_fastkv(out):
    figures, cpu = {}, None
    section = None
    for line in out.splitlines():
        if line.startswith("cpu:"):
            cpu = line[len("cpu:"):].strip()
        if line.startswith("| prefill tokens"):
            section = "pp"
        elif line.startswith("| decode after"):
            section = "tg"
        elif line.startswith("| batched decode"):
            section = "batch"
        m = re.match(r"\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|(?:\s*([\d.]+)\s*\|)?", line)
        if m and section:
            # pp and tg rows: | n | ms | tok/s | …; batch rows: | B | context | ms/step | tok/s |
            figures[(section, int(m.group(1)))] = float(m.group(4) if section == "batch" else m.group(3))
    return figures, cpu


def llama_round(binary, model, threads):
    figures = {}
    name = "llama-bench " + os.path.basename(model)
    pp = json.loads(run([binary, "-m", model, "-t", str(threads), "-r", "1", "-o", "json",
                         "-p", ",".join(map(str, PREFILL)), "-n", "0"], name)) if PREFILL else []
    tg = json.loads(run([binary, "-m", model, "-t", str(threads), "-r", "1", "-o", "json", "-p", "0",
                         "-n", str(DECODE_TOKENS), "-d", ",".join(map(str, DECODE))], name)) if DECODE else []
    for r in pp:
        figures[("pp", r["n_prompt"])] = r["avg_ts"]
    for r in tg:
        figures[("tg", r.get("n_depth", 0))] = r["avg_ts"]
    return figures


def batched_round(binary, model, threads):
    """llama-batched-bench with a shared prompt (-pps): N_KV = PP + B·TG."""
    ctx = BATCH_CONTEXT + max(BATCH) * DECODE_TOKENS
    out = run([binary, "-m", model, "-t", str(threads), "-c", str(ctx), "-b", "2048", "-ub", "512", "-pps", "-kvu",
               "-npp", str(BATCH_CONTEXT), "-ntg", str(DECODE_TOKENS), "-npl", ",".join(map(str, BATCH)),
               "--output-format", "jsonl"], "llama-batched-bench " + os.path.basename(model))
    return parse_batched(out)


def parse_batched(out):
    """S_TG per B from llama-batched-bench's JSONL lines (or, for builds without JSONL, its Markdown rows
    | PP | TG | B | N_KV | T_PP s | S_PP t/s | T_TG s | S_TG t/s | …)."""
    figures = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "pl" in r and "speed_tg" in r:
                figures[("batch", int(r["pl"]))] = float(r["speed_tg"])
        elif re.match(r"^\|\s*\d+\s*\|", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if len(cells) >= 8:
                figures[("batch", int(cells[2]))] = float(cells[7])
    return figures


def main():
    global PREFILL, DECODE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--llama-batched-bench", help="llama-batched-bench for the batched decode comparison")
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--f32", help="an F32 GGUF of the same model for llama.cpp's F32 figures")
    ap.add_argument("--fastkv", default=None, help="fastkv binary (default: .build/release/fastkv)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill", default=",".join(map(str, PREFILL)), help="prompt lengths (empty: none)")
    ap.add_argument("--decode", default=",".join(map(str, DECODE)), help="decode depths (empty: none)")
    ap.add_argument("--fastkv-args", default="", help="extra bench-engine flags, e.g. \"--max-context 4096\"")
    a = ap.parse_args()
    try:
        PREFILL = [int(x) for x in a.prefill.split(",") if x.strip()]
        DECODE = [int(x) for x in a.decode.split(",") if x.strip()]
    except ValueError:
        sys.exit("bench-vs-llamacpp: --prefill and --decode are comma-separated token counts")
    if not PREFILL and not DECODE and not a.llama_batched_bench:
        sys.exit("bench-vs-llamacpp: nothing to measure (--prefill and --decode both empty, no --llama-batched-bench)")
    binary = a.fastkv or os.path.join(".build", "release", "fastkv")
    for path, what in [(binary, "fastkv binary"), (a.llama_bench, "llama-bench"), (a.model, "model")] + \
            ([(a.f32, "F32 GGUF")] if a.f32 else []) + \
            ([(a.llama_batched_bench, "llama-batched-bench")] if a.llama_batched_bench else []):
        if not os.path.exists(path):
            sys.exit(f"bench-vs-llamacpp: {what} {path} does not exist")
    if a.rounds < 1:
        sys.exit("bench-vs-llamacpp: --rounds must be >= 1")

    others = [("llama.cpp " + os.path.basename(a.model), a.model)] + ([("llama.cpp F32", a.f32)] if a.f32 else [])
    rows = {}
    cpu = None
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        ours, cpu = fastkv_round(binary, a.model, a.threads, a.fastkv_args.split(), bool(a.llama_batched_bench))
        for name, path in others:
            theirs = llama_round(a.llama_bench, path, a.threads) if PREFILL or DECODE else {}
            if a.llama_batched_bench:
                theirs.update(batched_round(a.llama_batched_bench, path, a.threads))
            for key, value in theirs.items():
                if key in ours:
                    rows.setdefault((key, name), []).append((ours[key], value))

    print(f"\n{a.rounds} interleaved rounds, {a.threads} threads; medians; ratio = fastkv / llama.cpp per round")
    print(f"cpu: {cpu or 'not printed by fastkv'}\n")
    print("| test | against | fastkv tok/s | llama.cpp tok/s | ratio (median) | ratios per round |")
    print("|---|---|---:|---:|---:|---|")
    order = {"pp": 0, "tg": 1, "batch": 2}
    for (key, name), pairs in sorted(rows.items(), key=lambda kv: (order[kv[0][0][0]], kv[0][0][1], kv[0][1])):
        kind, n = key
        label = {"pp": f"pp{n}", "tg": f"tg{DECODE_TOKENS} @ {n}",
                 "batch": f"batched B={n} (tg{DECODE_TOKENS} @ {BATCH_CONTEXT})"}[kind]
        ratios = [o / t for o, t in pairs]
        print(f"| {label} | {name} | {statistics.median(o for o, _ in pairs):.1f} | "
              f"{statistics.median(t for _, t in pairs):.1f} | {statistics.median(ratios):.2f} | "
              f"{' '.join(f'{x:.2f}' for x in ratios)} |")
    print("\n| process | peak RSS (MB) |\n|---|---:|")
    for name, rss in sorted(PEAK_RSS.items()):
        print(f"| {name} | {rss / 1e6:.1f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""One markdown table from several `fastkv eval suite` folders: per method-budget, the mean score over the
cells where full KV is above chance, ± the 95 % half-width of that mean (Agresti-Coull per cell, as the
suite's own README), one column per (folder, length, template).

    scripts/suite-table.py runs/suite-1k2k-plain runs/suite-1k-chat runs/suite-4k-plain [--per-task r=0.1]

--per-task LABEL_SUFFIX also prints every cell's score for full and the labels ending in that suffix."""
import argparse
import json
import math
import os
import sys


def load(folder):
    path = os.path.join(folder, "results.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"suite-table: cannot read {path}: {e}")


def mean_with_interval(rows):
    if not rows:
        return None
    k = len(rows)
    var = 0.0
    for r in rows:
        n = r["samples"]
        p = (n * r["score"] + 2) / (n + 4)
        var += p * (1 - p) / (n + 4)
    return sum(r["score"] for r in rows) / k, 1.96 * math.sqrt(var) / k


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--per-task", metavar="SUFFIX", help='e.g. "r=0.1": a per-cell table for full and those labels')
    args = ap.parse_args()
    runs = [(f, load(f)) for f in args.folders]
    columns, labels = [], []
    for folder, res in runs:
        plan = res["plan"]
        for length in plan["lengths"]:
            for template in plan["templates"]:
                columns.append((folder, res, length, template))
        for r in res["rows"]:
            if r["label"] not in labels:
                labels.append(r["label"])
    head = [f"{os.path.basename(f.rstrip('/'))} {length} {template}" for f, _, length, template in columns]
    print("| method | " + " | ".join(head) + " |")
    print("|---|" + "|".join("---:" for _ in columns) + "|")
    for label in labels:
        cells = []
        for _, res, length, template in columns:
            rows = [r for r in res["rows"] if r["label"] == label and r["length"] == length
                    and r["template"] == template and not r["near_chance"]]
            m = mean_with_interval(rows)
            cells.append("–" if m is None else f"{100 * m[0]:.1f} ±{100 * m[1]:.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.per_task:
        picked = ["full"] + [l for l in labels if l.endswith(" " + args.per_task)]
        print("\n| task | length | template | " + " | ".join(picked) + " |")
        print("|---|---:|---|" + "|".join("---:" for _ in picked) + "|")
        for folder, res, length, template in columns:
            for task in res["plan"]["tasks"]:
                inc = {r["label"]: r for r in res["rows"]
                       if r["task"] == task and r["length"] == length and r["template"] == template}
                if "full" not in inc:
                    continue
                name = task + (" (near chance)" if inc["full"]["near_chance"] else "")
                print(f"| {name} | {length} | {template} | "
                      + " | ".join(f"{100 * inc[l]['score']:.1f}" if l in inc else "–" for l in picked) + " |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""llama.cpp's logits on a GGUF, written as a small JSON fixture for the engine's tests (issue 16).

Runs llama.cpp itself (b11312, through the ctypes bindings of the llama-cpp-python 0.3.36 sdist that
../shared/tools/build-llamacpp.sh unpacks, on the shared libraries that script builds), with an f32
KV cache and no flash attention, so on an F32 GGUF every product is f32 as in fastkv. For each prompt
it records llama.cpp's tokens, the last position's 32 largest logits and every 97th logit, and an
8-token greedy continuation with its top-1 minus top-2 margins.

    python3 scripts/make-llama-checkpoint.py --shape 1b --format f16 --out models/llama-1b-shape.f16.gguf
    $LLAMACPP/src/build/bin/llama-quantize --allow-requantize models/llama-1b-shape.f16.gguf /tmp/1b.f32.gguf F32
    scripts/llamacpp-logits.py --gguf /tmp/1b.f32.gguf --llamacpp $LLAMACPP \\
        --source "scripts/make-llama-checkpoint.py --shape 1b --format f16" \\
        --out Tests/Fixtures/llama-1b-shape/llamacpp-logits.json

LLAMACPP defaults to $HOME/.cache/llamacpp-b11312. Needs numpy, jinja2, diskcache and
typing-extensions (the bindings import them); run it from a venv that has them.
"""
import argparse
import glob
import json
import os
import sys

PROMPTS = [
    ("short", "The capital of France is"),
    ("sentence", "Disaggregated serving splits the prefill of a prompt from the decoding of its answer, "
                 "so each pool of workers can be sized for its own bottleneck."),
    ("long", " ".join(f"Item {i}: the {w} of section {i * 7 % 13} is kept for later reference."
                      for i, w in enumerate(["key", "value", "index", "table", "page", "token", "layer",
                                             "head", "budget", "window"] * 3))),
]
TOP = 32
STRIDE = 97
GREEDY = 8


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, help="the GGUF llama.cpp runs (F32 for f32 products)")
    ap.add_argument("--llamacpp", default=os.path.expanduser("~/.cache/llamacpp-b11312"),
                    help="build-llamacpp.sh's folder (holds src/build/bin and the unpacked sdist)")
    ap.add_argument("--source", required=True, help="the command that writes the checkpoint fastkv loads")
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    lib = os.path.join(args.llamacpp, "src/build/bin")
    packages = glob.glob(os.path.join(args.llamacpp, "llama_cpp_python-*"))
    if not glob.glob(os.path.join(lib, "libllama.so*")) or not packages:
        sys.exit(f"llamacpp-logits: error: no libllama.so in {lib} or no unpacked sdist in {args.llamacpp} "
                 "(run ../shared/tools/build-llamacpp.sh first)")
    os.environ["LLAMA_CPP_LIB_PATH"] = lib
    sys.path.insert(0, packages[0])
    import numpy as np
    import llama_cpp

    longest = max(len(text) for _, text in PROMPTS) + GREEDY + 16
    llm = llama_cpp.Llama(model_path=args.gguf, n_ctx=longest, n_batch=512, n_threads=args.threads,
                          n_threads_batch=args.threads, logits_all=True, flash_attn=False,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32, verbose=False)
    rows = []
    for name, text in PROMPTS:
        ids = llm.tokenize(text.encode(), add_bos=True, special=False)
        llm.reset()
        llm.eval(ids)
        last = np.array(llm.scores[len(ids) - 1], dtype=np.float32)
        top = np.argsort(-last, kind="stable")[:TOP]
        greedy, margins = [], []
        for _ in range(GREEDY):
            scores = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            order = np.argsort(-scores, kind="stable")
            greedy.append(int(order[0]))
            margins.append(float(scores[order[0]] - scores[order[1]]))
            llm.eval([int(order[0])])
        rows.append(dict(name=name, text=text, ids=[int(t) for t in ids],
                         top_ids=[int(t) for t in top], top_logits=[float(last[t]) for t in top],
                         stride=STRIDE, strided_logits=[float(v) for v in last[::STRIDE]],
                         greedy=greedy, greedy_margins=margins))
        print(f"{name}: {len(ids)} tokens, top-1 {top[0]} ({last[top[0]]:.4f}), greedy {greedy}")
    fixture = dict(source=args.source, engine="llama.cpp b11312 (llama-cpp-python 0.3.36 sdist), "
                   f"{os.path.basename(args.gguf)}, f32 KV cache, flash attention off, {args.threads} threads",
                   vocab_size=int(llm.n_vocab()), prompts=rows)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

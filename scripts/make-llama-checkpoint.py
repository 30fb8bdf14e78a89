#!/usr/bin/env python3
"""Random-weight Llama checkpoints with the real geometry of Llama-3.2-1B and Llama-3.1-8B, for
memory and speed benchmarks (issue 16). Never committed: generate them where you benchmark.

    scripts/make-llama-checkpoint.py --shape 1b --format f16  --out models/llama-1b-shape.f16.gguf
    scripts/make-llama-checkpoint.py --shape 1b --format q8_0 --out models/llama-1b-shape.q8_0.gguf
    scripts/make-llama-checkpoint.py --shape 8b --format q8_0 --out models/llama-8b-shape.q8_0.gguf
    scripts/make-llama-checkpoint.py --shape 1b --format bf16 --out models/llama-1b-shape-hf   # sharded safetensors
    scripts/make-llama-checkpoint.py --shape tiny --format q8_0 --out /tmp/t.gguf --vocab-size 256  # for tests

The tokenizer is Llama-3's (the llama-bpe vocab GGUF that scripts/fetch-llama3-vocab.sh extracts
from the llama-cpp-python sdist, --vocab); without it (or with --vocab-size) a byte-level toy
vocabulary of that size is written instead. Tensors are written one at a time (streamed), so the
8B shape needs about one tensor of memory, not the model. Needs numpy only.

Weights: normal with std 0.02 (norms 1), seeded per tensor name, so the same command always writes
the same file. GGUF layout as llama.cpp's converter writes it: Q/K rows permuted for its RoPE,
rope_freqs.weight for the llama3 frequency scaling, F32 norms, no output.weight when tied.
"""
import argparse
import json
import os
import struct
import sys
import zlib

import numpy as np

SHAPES = {
    # Llama-3.2-1B: 16 layers, hidden 2048, 32/8 heads, head_dim 64, FFN 8192, tied, rope scaling 32.
    "1b": dict(layers=16, hidden=2048, heads=32, kv_heads=8, head_dim=64, ffn=8192, vocab=128256, tied=True,
               context=131072, theta=500000.0, scaling=dict(factor=32.0, low=1.0, high=4.0, original=8192)),
    # Llama-3.1-8B: 32 layers, hidden 4096, 32/8 heads, head_dim 128, FFN 14336, untied, rope scaling 8.
    "8b": dict(layers=32, hidden=4096, heads=32, kv_heads=8, head_dim=128, ffn=14336, vocab=128256, tied=False,
               context=131072, theta=500000.0, scaling=dict(factor=8.0, low=1.0, high=4.0, original=8192)),
    # A small variant with the same traits (GQA 4:1, tied, llama3 scaling), fast enough for tests.
    "tiny": dict(layers=2, hidden=128, heads=4, kv_heads=1, head_dim=32, ffn=256, vocab=256, tied=True,
                 context=1024, theta=500000.0, scaling=dict(factor=32.0, low=1.0, high=4.0, original=64)),
}

GGUF_TYPES = {"f32": 0, "f16": 1, "q8_0": 8, "bf16": 30}
ALIGNMENT = 32


# --------------------------------------------------------------------------------------------
# Values

def rng_for(name, seed):
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def matrix(name, rows, cols, seed):
    return (rng_for(name, seed).standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float32)


def rope_freq_factors(s):
    """llama.cpp's rope_freqs for llama3 scaling: the divisor of each frequency (1 / HF's scaling)."""
    d, theta, sc = s["head_dim"], s["theta"], s["scaling"]
    freqs = 1.0 / theta ** (np.arange(0, d, 2, dtype=np.float64) / d)
    low_wavelen, high_wavelen = sc["original"] / sc["low"], sc["original"] / sc["high"]
    out = []
    for f in freqs:
        wavelen = 2 * np.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(sc["factor"])
        else:
            smooth = (sc["original"] / wavelen - sc["low"]) / (sc["high"] - sc["low"])
            out.append(1.0 / ((1 - smooth) / sc["factor"] + smooth))
    return np.array(out, dtype=np.float32)


def permute_qk(w, heads):
    """llama.cpp's converter order for Q/K rows (HF rotate-half → interleaved pairs)."""
    rows, cols = w.shape
    return w.reshape(heads, 2, rows // heads // 2, cols).swapaxes(1, 2).reshape(rows, cols)


def encode(values, fmt):
    if fmt == "f32":
        return values.astype("<f4").tobytes()
    if fmt == "f16":
        return values.astype("<f2").tobytes()
    if fmt == "bf16":
        bits = values.astype(np.float32).view(np.uint32)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()   # round to nearest even
    if fmt == "q8_0":   # ggml block: f16 d = max|x|/127, int8 q = round(x/d), 32 weights per block
        blocks = values.reshape(-1, 32).astype(np.float32)
        d = np.abs(blocks).max(axis=1) / 127.0
        inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
        q = np.clip(np.rint(blocks * inv[:, None]), -127, 127).astype(np.int8)
        out = np.empty((blocks.shape[0], 34), dtype=np.uint8)
        out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
        out[:, 2:] = q.view(np.uint8)
        return out.tobytes()
    raise ValueError(fmt)


def nbytes(shape, fmt):
    n = int(np.prod(shape))
    return {"f32": 4 * n, "f16": 2 * n, "bf16": 2 * n, "q8_0": n // 32 * 34}[fmt]


# --------------------------------------------------------------------------------------------
# The tensor list, in llama.cpp's order: (gguf name, hf name, shape [rows, cols] or [n], maker)

def tensors(s, seed):
    h, d, H, Hk, ffn, vocab = s["hidden"], s["head_dim"], s["heads"], s["kv_heads"], s["ffn"], s["vocab"]
    ones = lambda n: (lambda: np.ones(n, dtype=np.float32))
    out = [("token_embd.weight", "model.embed_tokens.weight", [vocab, h], lambda: matrix("embed", vocab, h, seed))]
    for i in range(s["layers"]):
        g, p = f"blk.{i}.", f"model.layers.{i}."
        out += [
            (g + "attn_norm.weight", p + "input_layernorm.weight", [h], ones(h)),
            (g + "attn_q.weight", p + "self_attn.q_proj.weight", [H * d, h], lambda n=p: matrix(n + "q", H * d, h, seed)),
            (g + "attn_k.weight", p + "self_attn.k_proj.weight", [Hk * d, h], lambda n=p: matrix(n + "k", Hk * d, h, seed)),
            (g + "attn_v.weight", p + "self_attn.v_proj.weight", [Hk * d, h], lambda n=p: matrix(n + "v", Hk * d, h, seed)),
            (g + "attn_output.weight", p + "self_attn.o_proj.weight", [h, H * d], lambda n=p: matrix(n + "o", h, H * d, seed)),
            (g + "ffn_norm.weight", p + "post_attention_layernorm.weight", [h], ones(h)),
            (g + "ffn_gate.weight", p + "mlp.gate_proj.weight", [ffn, h], lambda n=p: matrix(n + "gate", ffn, h, seed)),
            (g + "ffn_up.weight", p + "mlp.up_proj.weight", [ffn, h], lambda n=p: matrix(n + "up", ffn, h, seed)),
            (g + "ffn_down.weight", p + "mlp.down_proj.weight", [h, ffn], lambda n=p: matrix(n + "down", h, ffn, seed)),
        ]
    out.append(("output_norm.weight", "model.norm.weight", [h], ones(h)))
    if not s["tied"]:
        out.append(("output.weight", "lm_head.weight", [vocab, h], lambda: matrix("lm_head", vocab, h, seed)))
    return out


# --------------------------------------------------------------------------------------------
# Tokenizer: Llama-3's from the llama-bpe vocab GGUF, or a byte-level toy one

def read_gguf_metadata(path):
    """The metadata key/values of a GGUF file (v2/v3), every length bounded by the file size."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            sys.exit(f"make-llama-checkpoint: {path}: truncated at byte {pos} (wanted {n} more)")
        b = data[pos:pos + n]
        pos += n
        return b

    def u32(): return struct.unpack("<I", take(4))[0]
    def u64(): return struct.unpack("<Q", take(8))[0]
    def string(): return take(u64()).decode("utf-8", errors="surrogateescape")
    scalars = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def value(t):
        if t in scalars:
            fmt = scalars[t]
            return struct.unpack(fmt, take(struct.calcsize(fmt)))[0]
        if t == 8:
            return string()
        if t == 9:
            et, n = u32(), u64()
            if n > len(data):
                sys.exit(f"make-llama-checkpoint: {path}: array of {n} items in a {len(data)}-byte file")
            return [value(et) for _ in range(n)]
        sys.exit(f"make-llama-checkpoint: {path}: unknown value type {t}")

    if take(4) != b"GGUF":
        sys.exit(f"make-llama-checkpoint: {path}: not a GGUF file")
    version = u32()
    if version not in (2, 3):
        sys.exit(f"make-llama-checkpoint: {path}: GGUF version {version}, expected 2 or 3")
    _tensor_count, kv_count = u64(), u64()
    meta = {}
    for _ in range(kv_count):
        key = string()
        t = u32()
        if t == 9:   # keep the element type, to write the array back as it was
            et, n = u32(), u64()
            if n > len(data):
                sys.exit(f"make-llama-checkpoint: {path}: array of {n} items in a {len(data)}-byte file")
            meta[key] = ((9, et), [value(et) for _ in range(n)])
        else:
            meta[key] = (t, value(t))
    return meta


def tokenizer_metadata(vocab_path, vocab_size):
    """(key, gguf type, value) triples of the tokenizer and the vocabulary size they need."""
    if vocab_path and vocab_size is None:
        meta = read_gguf_metadata(vocab_path)
        keep = [k for k in meta if k.startswith("tokenizer.")]
        tokens = meta["tokenizer.ggml.tokens"][1]
        return [(k, meta[k][0], meta[k][1]) for k in keep], len(tokens)
    n = vocab_size or 256
    if n < 257:
        sys.exit("make-llama-checkpoint: the toy vocabulary needs --vocab-size ≥ 257 (256 bytes + <|end_of_text|>)")
    byte_chars = gpt2_byte_chars()
    tokens = [byte_chars[b] for b in range(256)] + [f"<|reserved_{i}|>" for i in range(n - 257)] + ["<|end_of_text|>"]
    types = [1] * 256 + [3] * (n - 256)
    return [("tokenizer.ggml.model", 8, "gpt2"), ("tokenizer.ggml.pre", 8, "llama-bpe"),
            ("tokenizer.ggml.tokens", (9, 8), tokens), ("tokenizer.ggml.token_type", (9, 5), types),
            ("tokenizer.ggml.merges", (9, 8), []), ("tokenizer.ggml.bos_token_id", 4, n - 1),
            ("tokenizer.ggml.eos_token_id", 4, n - 1)], n


def gpt2_byte_chars():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


# --------------------------------------------------------------------------------------------
# GGUF v3 writer (streamed: sizes are known up front, data is written tensor by tensor)

def pack_string(x):
    b = x.encode("utf-8", errors="surrogateescape")
    return struct.pack("<Q", len(b)) + b


SCALAR_FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def pack_value(t, v):
    if isinstance(t, tuple):   # (9, element type)
        et = t[1]
        return struct.pack("<IQ", et, len(v)) + b"".join(pack_value(et, x) for x in v)
    if t == 8:
        return pack_string(v)
    return struct.pack(SCALAR_FMT[t], v)


def pack_kv(key, t, v):
    return pack_string(key) + struct.pack("<I", 9 if isinstance(t, tuple) else t) + pack_value(t, v)


def write_gguf(path, s, fmt, seed, tok_meta):
    h = s["hidden"]
    meta = [("general.architecture", 8, "llama"), ("general.name", 8, f"random-llama-{args.shape}"),
            ("general.file_type", 4, {"f32": 0, "f16": 1, "q8_0": 7, "bf16": 32}[fmt]),
            ("llama.block_count", 4, s["layers"]), ("llama.context_length", 4, s["context"]),
            ("llama.embedding_length", 4, h), ("llama.feed_forward_length", 4, s["ffn"]),
            ("llama.attention.head_count", 4, s["heads"]), ("llama.attention.head_count_kv", 4, s["kv_heads"]),
            ("llama.attention.key_length", 4, s["head_dim"]), ("llama.attention.value_length", 4, s["head_dim"]),
            ("llama.rope.dimension_count", 4, s["head_dim"]), ("llama.rope.freq_base", 6, s["theta"]),
            ("llama.attention.layer_norm_rms_epsilon", 6, 1e-5), ("llama.vocab_size", 4, s["vocab"]),
            ("general.alignment", 4, ALIGNMENT)] + tok_meta
    items = tensors(s, seed)
    items.insert(1, ("rope_freqs.weight", None, [s["head_dim"] // 2], lambda: rope_freq_factors(s)))
    plan, offset = [], 0
    for gname, _hf, shape, make in items:
        tfmt = fmt if len(shape) == 2 else "f32"
        plan.append((gname, shape, tfmt, make, offset))
        offset += (nbytes(shape, tfmt) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    partial = path + ".partial"   # renamed at the end: an interrupted run leaves no truncated GGUF
    with open(partial, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, len(plan), len(meta)))
        for key, t, v in meta:
            f.write(pack_kv(key, t, v))
        for gname, shape, tfmt, _make, off in plan:   # GGUF dims are innermost first
            f.write(pack_string(gname) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", x) for x in reversed(shape))
                    + struct.pack("<IQ", GGUF_TYPES[tfmt], off))
        f.write(b"\0" * ((-f.tell()) % ALIGNMENT))
        base = f.tell()
        for i, (gname, shape, tfmt, make, off) in enumerate(plan):
            w = make()
            if gname.endswith("attn_q.weight"):
                w = permute_qk(w, s["heads"])
            elif gname.endswith("attn_k.weight"):
                w = permute_qk(w, s["kv_heads"])
            f.seek(base + off)
            f.write(encode(w, tfmt))
            progress(i + 1, len(plan))
        f.write(b"\0" * ((-f.tell()) % ALIGNMENT))
    os.replace(partial, path)


# --------------------------------------------------------------------------------------------
# Sharded safetensors (HF layout) with config.json and, from the vocab GGUF, tokenizer.json

def write_hf(directory, s, fmt, seed, shard_bytes, vocab_path):
    os.makedirs(directory, exist_ok=True)
    dtype = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[fmt]
    items = tensors(s, seed)
    shards, current, size = [], [], 0
    for item in items:
        n = nbytes(item[2], fmt if len(item[2]) == 2 else "f32")
        if current and size + n > shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(item)
        size += n
    shards.append(current)
    weight_map, done = {}, 0
    for k, shard in enumerate(shards):
        name = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {}, 0
        for _g, hf, shape, _make in shard:
            tfmt = fmt if len(shape) == 2 else "f32"
            n = nbytes(shape, tfmt)
            header[hf] = {"dtype": dtype if len(shape) == 2 else "F32", "shape": shape, "data_offsets": [offset, offset + n]}
            offset += n
            weight_map[hf] = name
        blob = json.dumps(header, separators=(",", ":")).encode()
        blob += b" " * ((-len(blob)) % 8)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(struct.pack("<Q", len(blob)) + blob)
            for _g, _hf, shape, make in shard:
                f.write(encode(make(), fmt if len(shape) == 2 else "f32"))
                done += 1
                progress(done, len(items))
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    sc = s["scaling"]
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": s["hidden"],
              "intermediate_size": s["ffn"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
              "num_key_value_heads": s["kv_heads"], "head_dim": s["head_dim"], "vocab_size": s["vocab"],
              "max_position_embeddings": s["context"], "rms_norm_eps": 1e-5, "rope_theta": s["theta"],
              "rope_scaling": {"rope_type": "llama3", "factor": sc["factor"], "low_freq_factor": sc["low"],
                               "high_freq_factor": sc["high"], "original_max_position_embeddings": sc["original"]},
              "tie_word_embeddings": s["tied"], "torch_dtype": {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[fmt],
              "bos_token_id": 128000, "eos_token_id": 128001}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    if vocab_path:
        write_tokenizer_json(directory, vocab_path)
    else:
        print("make-llama-checkpoint: no --vocab: the HF directory has no tokenizer.json", file=sys.stderr)


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def write_tokenizer_json(directory, vocab_path):
    """tokenizer.json for Llama-3 from the vocab GGUF's tokens, types and merges (byte-level BPE)."""
    meta = read_gguf_metadata(vocab_path)
    tokens, types = meta["tokenizer.ggml.tokens"][1], meta["tokenizer.ggml.token_type"][1]
    merges = meta["tokenizer.ggml.merges"][1]
    bos, eos = meta["tokenizer.ggml.bos_token_id"][1], meta["tokenizer.ggml.eos_token_id"][1]
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, (t, ty) in enumerate(zip(tokens, types)) if ty == 3]
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
           "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
               {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
               {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
           "post_processor": {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": tokens[bos], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [{"SpecialToken": {"id": tokens[bos], "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                       {"SpecialToken": {"id": tokens[bos], "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                              "special_tokens": {tokens[bos]: {"id": tokens[bos], "ids": [bos], "tokens": [tokens[bos]]}}},
           "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                     "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                     "vocab": {t: i for i, t in enumerate(tokens)}, "merges": merges}}
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": tokens[bos], "eos_token": tokens[eos], "tokenizer_class": "PreTrainedTokenizerFast"}, f)


def progress(i, n):
    if sys.stderr.isatty() or i == n:
        print(f"\rmake-llama-checkpoint: {i}/{n} tensors", end="\n" if i == n else "", file=sys.stderr, flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--format", choices=["f16", "q8_0", "bf16", "f32"], required=True,
                    help="matrix type; a GGUF file for f16/q8_0/f32, a sharded safetensors directory for bf16")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab", default=os.environ.get("LLAMA3_VOCAB", "models/vocab/ggml-vocab-llama-bpe.gguf"),
                    help="Llama-3 vocab GGUF (scripts/fetch-llama3-vocab.sh puts it at the default path)")
    ap.add_argument("--vocab-size", type=int, help="write a toy byte-level vocabulary of this size instead")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard-gb", type=float, default=5.0, help="safetensors shard size (GB)")
    args = ap.parse_args()
    shape = dict(SHAPES[args.shape])
    vocab_path = args.vocab if args.vocab_size is None and os.path.exists(args.vocab) else None
    if args.vocab_size is None and vocab_path is None:
        sys.exit(f"make-llama-checkpoint: no Llama-3 vocab at {args.vocab}: run scripts/fetch-llama3-vocab.sh, "
                 "pass --vocab PATH, or --vocab-size N for a toy vocabulary")
    if args.format == "bf16":
        if args.vocab_size is not None:
            shape["vocab"] = args.vocab_size
        write_hf(args.out, shape, args.format, args.seed, int(args.shard_gb * 1e9), vocab_path)
    else:
        tok_meta, n = tokenizer_metadata(vocab_path, args.vocab_size)
        if args.vocab_size is not None or shape["vocab"] < n:
            shape["vocab"] = max(n, args.vocab_size or 0)
        write_gguf(args.out, shape, args.format, args.seed, tok_meta)

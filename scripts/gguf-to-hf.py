#!/usr/bin/env python3
"""Convert a Llama-architecture GGUF into a Hugging Face directory without torch.

usage: gguf-to-hf.py IN.gguf OUT_DIR [f32|f16|bf16]
Writes config.json, model.safetensors, tokenizer.json and tokenizer_config.json.
Needs only numpy, gguf, safetensors and tokenizers. Used by the tests to check that the
same weights give the same logits through our GGUF reader and through our HF reader.
"""
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import save_file


def main():
    src, out = sys.argv[1], sys.argv[2]
    dtype = sys.argv[3] if len(sys.argv) > 3 else "f32"
    os.makedirs(out, exist_ok=True)
    r = GGUFReader(src)

    def field(key):
        return r.fields[key].contents()

    arch = field("general.architecture")
    if arch != "llama":
        sys.exit(f"{src}: architecture {arch!r} is not llama")
    n_head = int(field("llama.attention.head_count"))
    n_kv = int(field("llama.attention.head_count_kv"))
    hidden = int(field("llama.embedding_length"))
    names = {t.name for t in r.tensors}
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": hidden,
        "intermediate_size": int(field("llama.feed_forward_length")),
        "num_hidden_layers": int(field("llama.block_count")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv,
        "head_dim": hidden // n_head,
        "max_position_embeddings": int(field("llama.context_length")),
        "rms_norm_eps": float(field("llama.attention.layer_norm_rms_epsilon")),
        "rope_theta": float(field("llama.rope.freq_base")),
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": "output.weight" not in names,
        "vocab_size": len(r.fields["tokenizer.ggml.tokens"].data),
        "bos_token_id": int(field("tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(field("tokenizer.ggml.eos_token_id")),
        "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[dtype],
    }

    # llama.cpp's convert script permutes Q/K rows: reshape(n, 2, d/2, cols).swapaxes(1, 2).
    # The inverse is reshape(n, d/2, 2, cols).swapaxes(1, 2).
    def unpermute(w, heads):
        half = w.shape[0] // heads // 2
        return w.reshape(heads, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    kinds = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
             "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    tensors = {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape))
        w = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(shape)
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        elif t.name == "output.weight":
            name = "lm_head.weight"
        else:
            _, layer, kind, _ = t.name.split(".")
            name = f"model.layers.{layer}.{kinds[kind]}.weight"
            if kind == "attn_q":
                w = unpermute(w, n_head)
            elif kind == "attn_k":
                w = unpermute(w, n_kv)
        tensors[name] = w
    if dtype == "f16":
        tensors = {k: v.astype(np.float16) for k, v in tensors.items()}
    elif dtype == "bf16":
        import ml_dtypes
        tensors = {k: v.astype(ml_dtypes.bfloat16) for k, v in tensors.items()}
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    if field("tokenizer.ggml.model") != "gpt2":
        sys.exit("only byte-level BPE (gpt2) vocabularies are converted")
    toks_f = r.fields["tokenizer.ggml.tokens"]
    toks = [bytes(toks_f.parts[i]).decode("utf-8") for i in toks_f.data]
    types_f = r.fields["tokenizer.ggml.token_type"]
    types = [int(types_f.parts[i][0]) for i in types_f.data]
    merges_f = r.fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(merges_f.parts[i]).decode("utf-8").split(" ", 1)) for i in merges_f.data]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(toks)}, merges=merges,
                               fuse_unk=False, byte_fallback=False))
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if field("tokenizer.ggml.pre") == "smollm":
        pre = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), pre])
    tok.pre_tokenizer = pre
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(toks[i], special=True, normalized=False)
                            for i, ty in enumerate(types) if ty == 3])
    tok.save(os.path.join(out, "tokenizer.json"))
    tok_config = {
        "bos_token": toks[config["bos_token_id"]],
        "eos_token": toks[config["eos_token_id"]],
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": field("tokenizer.chat_template") if "tokenizer.chat_template" in r.fields else None,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tok_config, f, indent=2)
    print("wrote", out, {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))})


if __name__ == "__main__":
    main()

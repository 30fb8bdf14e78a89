#!/usr/bin/env python3
"""Writes Tests/Fixtures/smollm2/chat_ids.json: token ids of conversations rendered by HF
transformers' apply_chat_template(..., add_generation_prompt=True) with the default model's own
template and tokenizer. Run once on a developer machine (pip install transformers; no torch needed)
after scripts/fetch-model.sh --hf; the output is committed and the tests compare our renderer and
tokenizer against it.

    python3 scripts/gen-chat-fixtures.py [HF_DIR]
"""
import json
import sys
from pathlib import Path

import transformers
from transformers import AutoTokenizer

root = Path(__file__).resolve().parent.parent
hf_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "models/SmolLM2-135M-Instruct-hf"
out = root / "Tests/Fixtures/smollm2/chat_ids.json"

conversations = [
    ("one user turn", [{"role": "user", "content": "What is the capital of France?"}]),
    ("own system prompt", [{"role": "system", "content": "You answer in one word."},
                           {"role": "user", "content": "Capital of Italy?"}]),
    ("several rounds", [{"role": "user", "content": "Hi!"},
                        {"role": "assistant", "content": "Hello! How can I help you today?"},
                        {"role": "user", "content": "Name three primes."},
                        {"role": "assistant", "content": "2, 3 and 5."},
                        {"role": "user", "content": "And the next one?"}]),
    ("system then rounds", [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "2+2?"},
                            {"role": "assistant", "content": "4"},
                            {"role": "user", "content": "3+3?"}]),
    ("unicode", [{"role": "user", "content": "Traduis « bonjour » en 日本語, s'il te plaît. 🙂 Ünïcödé — ok?"}]),
    ("empty user content", [{"role": "user", "content": ""}]),
    ("empty system content", [{"role": "system", "content": ""}, {"role": "user", "content": "ping"}]),
    ("whitespace and newlines", [{"role": "user", "content": "  line one\n\n\tline two  \n"}]),
    ("long user turn", [{"role": "user", "content": " ".join(f"word{i}" for i in range(300))}]),
    ("assistant last", [{"role": "user", "content": "Finish this: The sky is"},
                        {"role": "assistant", "content": "blue"}]),
]

tok = AutoTokenizer.from_pretrained(str(hf_dir))
cases = []
for name, messages in conversations:
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):
        ids = ids["input_ids"]
    cases.append({"name": name, "messages": messages, "text": text, "ids": [int(i) for i in ids]})

out.write_text(json.dumps({
    "generator": f"transformers {transformers.__version__} apply_chat_template(add_generation_prompt=True)",
    "model": "SmolLM2-135M-Instruct (tokenizer.json and chat_template of scripts/fetch-model.sh --hf)",
    "cases": cases,
}, ensure_ascii=False, indent=1) + "\n")
print(f"wrote {out} ({len(cases)} conversations)")

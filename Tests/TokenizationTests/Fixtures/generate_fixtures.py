#!/usr/bin/env python3
"""Regenerates the JSON fixtures next to this script. Needs `regex`, `tokenizers` and `jinja2`.

usage: generate_fixtures.py [path/to/SmolLM2-135M-Instruct-hf]

- pretokenizer_cases.json: for each string, the pre-token splits of the GPT-2, Llama-3 (llama-bpe) and
  SmolLM (digits isolated, then GPT-2) patterns, computed with the `regex` module, cross-checked against
  the HF `tokenizers` pre-tokenizers, plus the ids and the decode of SmolLM2's real tokenizer.json
  (`smollm2_ids_special_as_text`: with `encode_special_tokens`, i.e. special-token text as plain text).
- chat_templates.json: SmolLM2's and Llama-3's chat templates rendered by Jinja2 the way transformers'
  apply_chat_template renders them (trim_blocks, lstrip_blocks).
"""
import json, os, sys
import regex
from tokenizers import Tokenizer, Regex, pre_tokenizers
import jinja2
import jinja2.sandbox

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
HF_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "SmolLM2-135M-Instruct-hf")

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

STRINGS = [
    "a  1",
    "Hello world",
    " Hello  world",
    "I'm you're we've they'll she'd it's don't",
    "I\u2019m you\u2019re it\u2019s",
    "IT'S WE'LL I'M THEY'RE 'S 'Ll",
    "'s 's 'S 'll 'LL word' 'x",
    "12345678",
    "x=1234567; y = 89",
    "3.14159 and 2,718",
    "a\tb\n\nc",
    "   \n\t  ",
    "trailing spaces   ",
    "  leading",
    "line1\r\nline2\n\n\nline3\r\r\n",
    "tabs\t\tand\t 2 spaces  3 and\n 4",
    "a \n b",
    "ab  \n  cd",
    "Hello!!! ???  ...",
    "\u6771\u4eac\u30bf\u30ef\u30fc\u306b\u884c\u304d\u307e\u3057\u305f\u3002",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u0661\u0662\u0663\u0664",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 123",
    "\U0001F600\U0001F44D\U0001F3FD emoji \U0001F1EB\U0001F1F7 flag",
    "family \U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 zwj",
    "caf\u00e9 \U0001F600 na\u00efve",
    "na\u00efve caf\u00e9 r\u00e9sum\u00e9 co\u00f6perate e\u0301t\u0301e\u0301",
    "$100.00 costs \u20ac50, \u00bd cup, \u216b, x\u00b2",
    "snake_case_identifier and CamelCase42x",
    "def f(x):\n    return x**2  # square\n",
    "https://example.com/path?q=1&r=two#frag",
    "  \u00a0 nbsp\u3000ideographic\u3000 space",
    "\u0085 nel and \u2028 line sep \u2029 para",
    "\u00a1Hola! \u00bfQu\u00e9 tal?",
    "\u01c5 title, \u02b0 modifier, \u30fc long",
    "ctrl\u0001\u001f chars\u007f and\u00ad soft hyphen",
    "text with <|im_start|> inside and <|endoftext|>",
    "<|im_start|>user\nHi<|im_end|>",
    "\n",
    " ",
    "",
    "1 22 333 4444 55555",
    "  \n\n  x",
    "\t\tdone\n",
]

def regex_split(pattern, text):
    pieces = regex.findall(pattern, text)
    assert "".join(pieces) == text, (pattern, text, pieces)
    return pieces

def smollm_split(text):
    out = []
    for part in regex.split(r"(\p{N})", text):
        if part:
            out.extend(regex_split(GPT2, part) if not regex.fullmatch(r"\p{N}", part) else [part])
    return out

# GPT-2's bytes_to_unicode, to map HF's byte-level pre-tokens back to text.
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return {chr(c): b for b, c in zip(bs, cs)}
U2B = bytes_to_unicode()
def unbyte(s):
    return bytes(U2B[c] for c in s).decode("utf-8")

HF_PRE = {
    "gpt2": pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    "llama-bpe": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
                                          pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
    "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
}

tok = Tokenizer.from_file(os.path.join(HF_DIR, "tokenizer.json"))
cases = []
for s in STRINGS:
    splits = {"gpt2": regex_split(GPT2, s), "llama-bpe": regex_split(LLAMA3, s), "smollm": smollm_split(s)}
    for name, pre in HF_PRE.items():
        hf = [unbyte(p) for p, _ in pre.pre_tokenize_str(s)]
        assert hf == splits[name], (name, s, hf, splits[name])
    enc = tok.encode(s, add_special_tokens=False)
    tok.encode_special_tokens = True  # special-token text is tokenized as plain text
    plain = tok.encode(s, add_special_tokens=False).ids
    tok.encode_special_tokens = False
    cases.append({"text": s, "splits": splits, "smollm2_ids": enc.ids, "smollm2_tokens": enc.tokens,
                  "smollm2_ids_special_as_text": plain,
                  "smollm2_decoded": tok.decode(enc.ids, skip_special_tokens=False)})
with open(os.path.join(HERE, "pretokenizer_cases.json"), "w") as f:
    json.dump({"generator": "generate_fixtures.py (regex %s, tokenizers)" % regex.__version__,
               "gpt2_pattern": GPT2, "llama3_pattern": LLAMA3, "cases": cases}, f, indent=1, ensure_ascii=True)

# Chat templates, rendered as transformers does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks).
env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
smol_template = json.load(open(os.path.join(HF_DIR, "tokenizer_config.json")))["chat_template"]
# Meta-Llama-3-8B-Instruct's tokenizer_config.json chat_template.
llama3_template = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
conversations = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "  Hello\n"}, {"role": "assistant", "content": "Hi there! "}, {"role": "user", "content": "2+2?"}],
]
renders = []
for template_name, template in [("smollm2", smol_template), ("llama3", llama3_template)]:
    t = env.from_string(template)
    for conv in conversations:
        for gen in (True, False):
            renders.append({"template": template_name, "messages": conv, "add_generation_prompt": gen,
                            "rendered": t.render(messages=conv, add_generation_prompt=gen, bos_token="<|begin_of_text|>")})
with open(os.path.join(HERE, "chat_templates.json"), "w") as f:
    json.dump({"templates": {"smollm2": smol_template, "llama3": llama3_template}, "renders": renders}, f, indent=1, ensure_ascii=True)
print("wrote", len(cases), "cases and", len(renders), "renders")

#!/usr/bin/env bash
# Extracts llama.cpp's Llama-3 tokenizer test vocabulary (ggml-vocab-llama-bpe.gguf and its .inp/.out
# test pairs) from the llama-cpp-python sdist into models/vocab/ (or $1). Used by
# Tests/TokenizationTests/LlamaBPEVocabTests and by scripts/make-llama-checkpoint.py.
#
# The sdist is about 77 MB; pip only builds its metadata (no C++). Do not use --no-binary :all:
# (pip would build cmake from source for the build dependencies).
set -euo pipefail
dest="${1:-models/vocab}"
version="0.3.36"
if [ -f "$dest/ggml-vocab-llama-bpe.gguf" ] && [ -f "$dest/ggml-vocab-llama-bpe.gguf.out" ]; then
    echo "fetch-llama3-vocab: $dest already has the vocabulary"; exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps --no-binary llama-cpp-python "llama-cpp-python==$version" -d "$tmp" \
    || { echo "fetch-llama3-vocab: error: pip download llama-cpp-python==$version failed (PyPI must be reachable)" >&2; exit 1; }
mkdir -p "$dest"
tar xzf "$tmp/llama_cpp_python-$version.tar.gz" -C "$dest" --strip-components=4 --wildcards \
    "llama_cpp_python-$version/vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf*"
ls -l "$dest"/ggml-vocab-llama-bpe.gguf*

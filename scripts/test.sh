#!/usr/bin/env bash
# The test command: installs dependencies and the model if missing, builds, runs every test.
# Before the main suites: the offline checks of deploy/, the AddressSanitizer build of the raw-memory
# suites, and a bounded fuzzing pass of every decoder (FASTKV_FUZZ_SECONDS per target, default 15).
# FASTKV_QUICK=1 skips those three (e.g. `FASTKV_QUICK=1 scripts/test.sh --filter WireTests`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --hf --deploy-tools
# llama.cpp's Llama-3 tokenizer vocabulary and test pairs (LlamaBPEVocabTests; one 77 MB pip download).
scripts/fetch-llama3-vocab.sh
# The Llama-3.2-1B-shaped checkpoints Llama1BShapeReferenceTests compares with llama.cpp's fixtures
# (random weights, deterministic; 2.5 + 1.3 GB, under a minute each; never committed).
for format in f16 q8_0; do
    out=models/llama-1b-shape.$format.gguf
    [ -f "$out" ] || python3 scripts/make-llama-checkpoint.py --shape 1b --format "$format" --out "$out"
done
if [ "${FASTKV_QUICK:-0}" != 1 ]; then
    scripts/validate-deploy.sh
    scripts/asan-test.sh
    scripts/fuzz.sh --seconds "${FASTKV_FUZZ_SECONDS:-15}"
fi
# Tests start real worker processes and time nothing, but the model tests are slow in debug:
# build the test products in release.
swift build -c release --product fastkv
# The HTTP gateway (Hummingbird: the one slow dependency, built once here) for HTTPEndToEndTests.
swift build -c release --product fastkv-http
swift test -c release "$@"

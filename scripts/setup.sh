#!/usr/bin/env bash
# Installs what fastkv needs on Debian 12 (idempotent): the C libraries, then the default model.
# Usage: scripts/setup.sh [--hf]   (--hf also converts the model to an HF directory, for the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev pkg-config python3-pip python3-venv curl)
# gnuplot draws the benchmark charts (fastkv bench, scripts/bench-http.py).
pkgs+=(gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The HTTP gateway's tests and benchmark use the official openai client and prometheus_client, in a
# venv of the checkout's own (Debian 12's system Python refuses pip installs; PEP 668).
venv=.venv
if ! "$venv/bin/python3" -c 'import openai, prometheus_client, httpx' 2>/dev/null; then
    echo "setup: installing openai and prometheus-client into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q openai prometheus-client httpx
fi
command -v swift >/dev/null || { echo "setup: error: swift (6.x) is not on PATH" >&2; exit 1; }
scripts/fetch-model.sh "$@"

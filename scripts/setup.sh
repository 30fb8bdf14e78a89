#!/usr/bin/env bash
# Installs what fastkv needs on Debian 12 (idempotent): the C libraries, then the default model.
# Usage: scripts/setup.sh [--hf]   (--hf also converts the model to an HF directory, for the tests)
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libopenblas-dev pkg-config python3-pip)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: error: swift (6.x) is not on PATH" >&2; exit 1; }
scripts/fetch-model.sh "$@"

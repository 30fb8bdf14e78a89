#!/usr/bin/env bash
# The demo: installs what is missing, fetches the model, builds in release and answers a chat prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fastkv
bin=$(swift build -c release --show-bin-path)/fastkv
prompt="${1:-What is the capital of France?}"
echo "> $prompt"
"$bin" generate --chat --prompt "$prompt" --max-tokens 64

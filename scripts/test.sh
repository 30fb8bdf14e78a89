#!/usr/bin/env bash
# The test command: installs dependencies and the model if missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --hf
# Tests start real worker processes and time nothing, but the model tests are slow in debug:
# build the test products in release.
swift build -c release --product fastkv
# The HTTP gateway (Hummingbird: the one slow dependency, built once here) for HTTPEndToEndTests.
swift build -c release --product fastkv-http
swift test -c release "$@"

#!/usr/bin/env bash
# The AddressSanitizer test build: the Wire, Transport, Tensors and CKernels suites (the code that
# handles raw memory: codecs, zero-copy frames, aligned storage, kernels) built and run under ASan
# through the side package ASan/, so the rest of the project (model, engine, cluster, CLI) is not
# rebuilt with the sanitizer. Any ASan report fails the run. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# The Swift runtime's crash backtracer fights ASan's reports.
export SWIFT_BACKTRACE=enable=no
# halt_on_error: the first report ends the test process, so it cannot be lost among passing tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1}"
flags=(--package-path ASan --scratch-path .build-asan --sanitize=address)
swift build "${flags[@]}" --build-tests
# GeneratedCodeTests finds Proto/ from its own #filePath, which here is the ASan/Tests symlink; it
# checks no memory handling and runs in the main `swift test`.
swift test "${flags[@]}" --skip-build --skip GeneratedCodeTests "$@"

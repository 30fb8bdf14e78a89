#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, its own package) with AddressSanitizer and runs each for a
# bounded time on its committed seed corpus; prints executions and crashes per target and exits 1
# when any target crashed (or its seeds no longer decode).
#
# Usage: scripts/fuzz.sh [--seconds N] [--jobs J] [--write-seeds] [--no-build] [target...]
#   --seconds N    fuzzing time per target (default 30)
#   --jobs J       parallel fuzzing processes per target (libFuzzer -fork; default 1)
#   --write-seeds  regenerate Fuzz/corpus/<target>/seed-* from the encoders, then stop
#   --no-build     use the binaries already in .build-fuzz
# Targets (default all): FuzzMessage FuzzKVLayer FuzzKVReceiver FuzzGGUF FuzzSafetensors FuzzTokenizerJSON
#
# New inputs go to .build-fuzz-runs/corpus/<target>/ (kept between runs, not committed); a crash is
# saved as .build-fuzz-runs/artifacts/<target>/crash-… and can be replayed with
#   .build-fuzz/release/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

all=(FuzzMessage FuzzKVLayer FuzzKVReceiver FuzzGGUF FuzzSafetensors FuzzTokenizerJSON)
seconds=30 jobs=1 write_seeds=0 build=1 targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --write-seeds) write_seeds=1; shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        -*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz: unknown target $t (have: ${all[*]})" >&2; exit 2; }
done

scratch=.build-fuzz runs=.build-fuzz-runs
bin="$scratch/release"
if [ "$build" = 1 ]; then
    # --sanitize=fuzzer makes SwiftPM link libFuzzer's main and compile the targets with
    # -parse-as-library. Swift's driver keeps only the last -sanitize= it is given, so the two
    # --sanitize flags alone leave Swift code without ASan: -Xswiftc passes both in one flag.
    flags=(-c release --package-path Fuzz --scratch-path "$scratch"
           --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)
    # One product at a time: a plain `swift build` of this package would also build every product
    # of the main package (the whole fastkv CLI) under the sanitizers.
    for t in "${targets[@]}"; do swift build "${flags[@]}" --product "$t"; done
fi

# The Swift runtime's crash backtracer fights ASan's (and makes every crash take seconds).
export SWIFT_BACKTRACE=enable=no
if [ "$write_seeds" = 1 ]; then
    for t in "${targets[@]}"; do FASTKV_FUZZ_WRITE_SEEDS="Fuzz/corpus/$t" "$bin/$t"; done
    exit 0
fi

max_len() {
    case "$1" in
        FuzzGGUF|FuzzSafetensors|FuzzTokenizerJSON) echo 16384 ;;
        *) echo 8192 ;;
    esac
}

failed=0
summary=()
for t in "${targets[@]}"; do
    if ! FASTKV_FUZZ_CHECK_SEEDS="Fuzz/corpus/$t" "$bin/$t"; then
        echo "fuzz: $t: committed seeds are stale; regenerate with scripts/fuzz.sh --write-seeds $t" >&2
        summary+=("$t: stale seeds")
        failed=1
        continue
    fi
    # Outside SwiftPM's scratch directory, which is SwiftPM's to manage.
    work="$runs/corpus/$t" artifacts="$runs/artifacts/$t" log="$runs/logs/$t.log"
    mkdir -p "$work" "$artifacts" "$runs/logs"
    count_artifacts() { mkdir -p "$artifacts"; find "$artifacts" -type f | wc -l; }
    before=$(count_artifacts)
    fork=()
    [ "$jobs" -gt 1 ] && fork=(-fork="$jobs" -ignore_crashes=1)
    set +e
    "$bin/$t" "$work" "Fuzz/corpus/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${fork[@]}" \
        >"$log" 2>&1
    rc=$?
    set -e
    # Plain mode prints stat::number_of_executed_units; fork mode prints "#N DONE ...".
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    crashes=$(( $(count_artifacts) - before ))
    line="$t: ${execs:-0} executions in ${seconds} s, $crashes crashes (exit $rc)"
    echo "fuzz: $line"
    summary+=("$line")
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        grep -E 'ERROR|Fatal error|deadly signal|SUMMARY|panic' "$log" | head -5 >&2 || true
        find "$artifacts" -type f -newer "$work" 2>/dev/null | head -5 | sed 's/^/fuzz:   artifact /' >&2 || true
        echo "fuzz:   log $log" >&2
    fi
done
echo "fuzz: summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"

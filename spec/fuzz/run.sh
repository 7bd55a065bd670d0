#!/usr/bin/env bash
# spec/fuzz/run.sh BUILD_DIR SECONDS — runs every libFuzzer harness BUILD_DIR/fuzz_* for
# SECONDS each (`make fuzz` runs it long, spec/run a short smoke).
#
# Seeds come from spec/fuzz/corpus/<name>/ (committed, when present); the growing corpus
# lives in spec/fuzz/corpus-run/<name>/ (ignored), crash/leak/timeout artifacts in
# spec/fuzz/corpus-run/<name>.artifacts/. A harness passes when it finds nothing in its time.
# Ends with "N passed, N failed"; with no harness at all that is one failure.
set -uo pipefail

BUILD_DIR=${1:?usage: spec/fuzz/run.sh BUILD_DIR SECONDS}
SECONDS_EACH=${2:-60}
HERE=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0

for bin in "$BUILD_DIR"/fuzz_*; do
    [[ -x $bin && -f $bin ]] || continue
    name=$(basename "$bin")
    corpus=$HERE/corpus-run/$name
    artifacts=$HERE/corpus-run/$name.artifacts
    mkdir -p "$corpus" "$artifacts"
    seeds=()
    [[ -d $HERE/corpus/$name ]] && seeds=("$HERE/corpus/$name")
    echo "== $name: ${SECONDS_EACH}s"
    if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "${seeds[@]}" 2>&1 | tail -n 30; then
        echo "ok   $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (artifacts in $artifacts)"
        failed=$((failed + 1))
    fi
done

if ((passed + failed == 0)); then
    echo "no fuzz harness in $BUILD_DIR (spec/fuzz/fuzz_*.c, built with -DSPEEZY_FUZZ=ON)"
    failed=1
fi
echo "$passed passed, $failed failed"
((failed == 0))

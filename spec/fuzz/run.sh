#!/usr/bin/env bash
# spec/fuzz/run.sh BUILD_DIR SECONDS — runs every libFuzzer harness BUILD_DIR/fuzz_* (`make
# fuzz` runs it long, spec/run a short smoke). Two checks per harness:
#   replay  every committed input in spec/fuzz/corpus/<name>/ runs once (the files are given
#           to the harness as arguments): what was found once stays fixed (a harness without
#           committed inputs has nothing to replay: no check, a note)
#   fuzz    SECONDS of fuzzing from that corpus; passes when it finds nothing
# The growing corpus lives in spec/fuzz/corpus-run/<name>/ (ignored), crash/leak/timeout
# artifacts in spec/fuzz/corpus-run/<name>.artifacts/. Ends with "N passed, N failed"; with
# no harness at all that is one failure.
#
# A finding, kept for good (every run replays it):
#   1. reproduce it: BUILD_DIR/fuzz_http spec/fuzz/corpus-run/fuzz_http.artifacts/crash-<sha>
#      (a harness names the promise it checks on stderr before it traps);
#   2. fix the code, and add a unit or API test for the behaviour where one fits;
#   3. copy the artifact into the corpus under a name that says what it broke — not crash-*,
#      which .gitignore ignores:
#        cp spec/fuzz/corpus-run/fuzz_http.artifacts/crash-<sha> \
#           spec/fuzz/corpus/fuzz_http/regress-<what-it-broke>
#   4. spec/fuzz/run.sh BUILD_DIR 0 must pass (0 seconds: replay only), then commit it.
# Inputs at a limit and one past it (corpus/fuzz_http/limit-*) are seeds in the same way: a
# limit that moves by one is caught by the replay itself.
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

    committed=()
    if [[ -d $HERE/corpus/$name ]]; then
        mapfile -t committed < <(find "$HERE/corpus/$name" -type f | sort)
    fi
    echo "== $name: replay of ${#committed[@]} committed inputs"
    if ((${#committed[@]} == 0)); then
        echo "--   $name: nothing to replay (no spec/fuzz/corpus/$name/; seeds there also" \
            "start the fuzzer somewhere)"
    elif ASAN_OPTIONS=detect_leaks=1 "$bin" -timeout=10 -rss_limit_mb=2048 \
        "${committed[@]}" >"$artifacts/replay.log" 2>&1; then
        echo "ok   $name replay"
        passed=$((passed + 1))
    else
        grep -aE 'broken promise|ERROR|Running:' "$artifacts/replay.log" | tail -n 20
        echo "FAIL $name replay (the last 'Running:' input above broke; $artifacts/replay.log)"
        failed=$((failed + 1))
    fi

    ((SECONDS_EACH > 0)) || continue
    seeds=()
    [[ -d $HERE/corpus/$name ]] && seeds=("$HERE/corpus/$name")
    dict=()
    [[ -f $HERE/$name.dict ]] && dict=(-dict="$HERE/$name.dict")
    echo "== $name: ${SECONDS_EACH}s"
    if ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
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

#!/usr/bin/env bash
# spec/bench/callgrind.sh [BIN] [LOG_LEVEL] [N] — instructions one worker spends per GET /hello,
# counted by valgrind's callgrind: the same figure for the same binary whatever else the
# machine does, so two builds compare without the noise of a timed run.
#
# Runs `BIN serve` (default build/speezy, WORKERS=1, scripts/) under callgrind twice: once
# answering 1 request, once 1 + N (default 5000) on one keep-alive connection (curl's URL
# glob), and prints (worker instructions of the second - of the first) / N. LOG_LEVEL info
# (default) includes the access line; warn leaves it out, as make bench does.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(realpath "${1:-$ROOT/build/speezy}")
LEVEL=${2:-info}
N=${3:-5000}

# The worker's instruction count after serving 1 + $1 requests (the largest process total).
count() {
    local dir port master
    dir=$(mktemp -d /tmp/speezy-callgrind.XXXXXX)
    port=$((20000 + RANDOM % 20000))
    (cd "$dir" && SPEEZY_ENV=test WORKERS=1 HOST=127.0.0.1 PORT=$port LOG_LEVEL=$LEVEL \
        SCRIPTS_DIR="$ROOT/scripts" PID_FILE="$dir/pid" DATABASE_URL= REDIS_URL= \
        exec valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$BIN" serve \
        >"$dir/log" 2>&1) &
    master=$!
    for _ in $(seq 150); do
        curl -fs "http://127.0.0.1:$port/hello" >/dev/null && break
        sleep 0.2
    done
    if (($1)); then curl -fs -o /dev/null "http://127.0.0.1:$port/hello?[1-$1]"; fi
    if ! kill -TERM "$master" 2>/dev/null; then
        echo "callgrind.sh: speezy stopped early:" >&2
        cat "$dir/log" >&2
        exit 1
    fi
    wait "$master" || true
    sed -n 's/^summary: //p' "$dir"/cg.* | sort -n | tail -n1
    rm -rf "$dir"
}

base=$(count 0)
total=$(count "$N")
echo "$(basename "$BIN") LOG_LEVEL=$LEVEL: $(((total - base) / N)) instructions per GET /hello (N=$N)"

#!/usr/bin/env bash
# spec/bench/syscalls.sh [BIN] [PATH] [SECONDS] — system calls one worker makes per GET PATH
# (default /redis) under wrk -t1 -c64 for SECONDS (default 5), counted on the worker alone.
#
# Counts with `strace -c -f -p WORKER` (calls and failed calls per syscall), or with
# SYSCALLS_TOOL=perf through the kernel's syscall tracepoints (`perf stat -e
# syscalls:sys_enter_*`: no failures, but far less overhead, so loop turns batch about as many
# requests as without it). Under strace the worker runs several times slower and each loop turn
# serves more requests: compare two builds with the same tool, not the figures of two tools.
# The server and wrk are pinned as in make bench (CPU 0 and 1). PATH is served by
# spec/bench/scripts/data (/redis is S3, /users/ID S4), or by scripts/ for /user/me (S5),
# against the PostgreSQL + Redis of BENCH_SERVERS=DIR (started and seeded there if needed, left
# running) or fresh ones in a temp dir (spec/bench/data.sh); /hello by spec/bench/scripts/hello
# and /claims (S2) by spec/bench/scripts/jwt. /claims and /user/me carry make bench's access
# token (minted with node: spec/bench/node is installed as make bench installs it).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=$(realpath "${1:-$ROOT/build/speezy}")
URL_PATH=${2:-/redis}
SECONDS_RUN=${3:-5}
TOOL=${SYSCALLS_TOOL:-strace}
SYSCALLS=(read write readv writev sendto recvfrom sendmsg recvmsg epoll_ctl epoll_wait accept4 close)

command -v "$TOOL" >/dev/null || {
    echo "syscalls.sh: $TOOL is missing" >&2
    exit 1
}
TMP=$(mktemp -d /tmp/speezy-syscalls.XXXXXX)
MASTER=
SERVERS=${BENCH_SERVERS:-}
cleanup() {
    if [[ -n $MASTER ]]; then
        kill -TERM "$MASTER" 2>/dev/null || true
        wait "$MASTER" 2>/dev/null || true
    fi
    if [[ -z ${BENCH_SERVERS:-} && -n $SERVERS ]]; then
        spec/tools/servers.sh destroy "$SERVERS" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

SCRIPTS=$ROOT/spec/bench/scripts/hello
DATABASE_URL=
REDIS_URL=
JWT_SECRET=
TOKEN=
WRK_SCRIPT=()
# shellcheck source=spec/bench/lib.sh
source "$ROOT/spec/bench/lib.sh"
# shellcheck source=spec/bench/data.sh
source "$ROOT/spec/bench/data.sh"
if [[ $URL_PATH != /hello && $URL_PATH != /claims ]]; then
    SCRIPTS=$ROOT/spec/bench/scripts/data
    [[ $URL_PATH == /user/me ]] && SCRIPTS=$ROOT/scripts
    [[ -n $SERVERS ]] || SERVERS=$TMP/servers
    bench_data "$SERVERS" "$BIN"
fi
if [[ $URL_PATH == /claims || $URL_PATH == /user/me ]]; then
    [[ $URL_PATH == /user/me ]] && bench_session
    [[ $URL_PATH == /claims ]] && SCRIPTS=$ROOT/spec/bench/scripts/jwt
    install_node "$ROOT/spec/bench"
    JWT_SECRET=$(random_secret)
    bench_token
    WRK_SCRIPT=(-s "$ROOT/spec/bench/wrk/bearer.lua")
fi
export BENCH_TOKEN=$TOKEN

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$TMP" && exec env SPEEZY_ENV=test WORKERS=1 HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn \
    PG_POOL_SIZE=10 SCRIPTS_DIR="$SCRIPTS" PID_FILE="$TMP/pid" DATABASE_URL="$DATABASE_URL" \
    REDIS_URL="$REDIS_URL" JWT_SECRET="$JWT_SECRET" taskset -c 0 "$BIN" serve) \
    >"$TMP/log" 2>&1 &
MASTER=$!
url="http://127.0.0.1:$port$URL_PATH"
for _ in $(seq 100); do
    curl -sf -m 1 -o /dev/null -H "Authorization: Bearer $TOKEN" "$url" && break
    sleep 0.1
done
curl -sf -m 1 -o /dev/null -H "Authorization: Bearer $TOKEN" "$url" || {
    echo "syscalls.sh: GET $URL_PATH fails; the server's log:" >&2
    tail -n 20 "$TMP/log" >&2
    exit 1
}
worker=$(pgrep -P "$MASTER" | head -n1)
taskset -c 1 wrk -t1 -c64 -d2s "${WRK_SCRIPT[@]}" "$url" >/dev/null # warm

if [[ $TOOL == strace ]]; then
    strace -c -f -p "$worker" -o "$TMP/counts" 2>/dev/null &
else
    events=$(printf 'syscalls:sys_enter_%s,' "${SYSCALLS[@]}")
    perf stat -x, -e "${events%,}" -p "$worker" -o "$TMP/counts" &
fi
counter=$!
sleep 0.5 # attached
out=$(taskset -c 1 wrk -t1 -c64 -d"${SECONDS_RUN}s" "${WRK_SCRIPT[@]}" "$url")
kill -INT "$counter"
wait "$counter" || true
reqs=$(awk '/requests in/ {print $1}' <<<"$out")
rps=$(awk '/Requests\/sec:/ {printf "%d", $2}' <<<"$out")

echo "$(basename "$BIN") GET $URL_PATH: $reqs requests ($rps req/s under $TOOL), wrk -t1 -c64 -d${SECONDS_RUN}s"
echo
echo "| syscall | calls | failed | per request |"
echo "|---|---:|---:|---:|"
if [[ $TOOL == strace ]]; then
    # strace -c rows: % time, seconds, usecs/call, calls, [errors,] syscall
    awk -v n="$reqs" '$1 ~ /^[0-9.]+$/ && $NF != "total" {
        err = NF == 6 ? $5 : 0
        printf "| %s | %d | %d | %.3f |\n", $NF, $4, err, $4 / n }' "$TMP/counts"
else
    awk -F, -v n="$reqs" '/sys_enter_/ && $1 > 0 {
        sub(/.*sys_enter_/, "", $3)
        printf "| %s | %d | | %.3f |\n", $3, $1, $1 / n }' "$TMP/counts"
fi

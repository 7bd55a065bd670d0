#!/usr/bin/env bash
# spec/tools/valgrind.sh — `make test-valgrind`: the release build under valgrind memcheck,
# for what AddressSanitizer cannot see: reads of uninitialised memory (a stack buffer sent to
# a client, a branch on a byte nobody wrote). Runs
#   unit  every C unit test build/test_* (the release build: valgrind can't run ASan binaries)
#   lua   the in-host Lua specs, `speezy test spec/lua/*_spec.lua`
#   api   the API specs of reload refusal, admin status and PostgreSQL down, with the server
#         started through spec/tools/valgrind-speezy (SPEEZY_BIN, and SPEEZY_RELEASE_BIN for
#         the servers a spec wants on the release build: this is the release build), so the
#         master, every forked worker and every `speezy reload` run under memcheck
# and counts each test plus one "memcheck clean" check per binary and per spec file: an
# unsuppressed memcheck error in any of its processes fails that check and is printed.
# spec/tools/valgrind.supp holds the suppressions, all of them for third-party code; an error
# with a frame in host/ is never suppressed. Ends with "N passed, N failed"; exits non-zero
# on any failure.
#
#   spec/tools/valgrind.sh                  unit + lua + api
#   spec/tools/valgrind.sh unit lua         some parts
#   spec/tools/valgrind.sh spec/api/17_admin_spec.lua   one spec file
#
# Servers: under spec/run (SPEEZY_TEST_SERVERS_DIR set) its PostgreSQL and Redis; alone, a
# fresh pair from spec/tools/servers.sh, migrated, destroyed at the end. The server under
# memcheck reaches PostgreSQL through its Unix socket (trusted, see servers.sh): over TCP
# libpq computes the SCRAM proof on the worker's loop, milliseconds natively but about a
# second under memcheck per connection, which would stall a fresh worker past the specs'
# timeouts. The unit tests keep the TCP URL (they wait as long as they need), and
# SPEEZY_TEST_TIME_SCALE=20 stretches the deadlines of the ones that race I/O against timers
# (spec/unit/test.h).
# Logs: build/test-logs/valgrind-<run>/ (the three newest kept), or SPEEZY_VALGRIND_LOG_DIR
# (spec/run gives its own run's folder): one folder per binary or spec file holding
# valgrind's log of each process (vg.<pid>.log), the error reports found in them
# (memcheck-errors.txt) and the test's output.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
BUILD=${BUILD:-build}
RUN_ID=$(date +%Y%m%d-%H%M%S)-$$
LOG_DIR=${SPEEZY_VALGRIND_LOG_DIR:-$ROOT/$BUILD/test-logs/valgrind-$RUN_ID}
SUPP=$ROOT/spec/tools/valgrind.supp
UNIT_TIMEOUT=${SPEEZY_VALGRIND_UNIT_TIMEOUT:-900}
API_TIMEOUT=${SPEEZY_VALGRIND_API_TIMEOUT:-1200}

# The specs that stop, refuse and report: reload refusal (14), the admin API's status after
# reloads good and bad (17), PostgreSQL stopped (20: queries answered 503 while it is down;
# 22: /readyz).
API_SPECS=(spec/api/14_reload_spec.lua spec/api/17_admin_spec.lua spec/api/20_pg_api_spec.lua
    spec/api/22_readyz_spec.lua)
# Tests left out here (busted --filter-out), each for a wall-clock bound that a server 20 to
# 50 times slower can't meet; spec/run's api suite runs them on the native binary.
declare -A API_FILTER_OUT=(
    # the master must exit within 5 s: valgrind's own start takes 1-2 s of it
    [spec/api/14_reload_spec.lua]="refuses to start on a broken script"
    # /readyz within 1.8 s while a server hangs
    [spec/api/22_readyz_spec.lua]="within the bound"
)

PARTS=()
FILES=()
for arg in "$@"; do
    case $arg in
    unit | lua | api) PARTS+=("$arg") ;;
    spec/api/*_spec.lua)
        [[ -f $arg ]] || {
            echo "valgrind.sh: no such spec file: $arg" >&2
            exit 2
        }
        FILES+=("$arg")
        ;;
    *)
        echo "valgrind.sh: unknown part or spec file: $arg (unit, lua, api, spec/api/*_spec.lua)" >&2
        exit 2
        ;;
    esac
done
((${#FILES[@]})) && PARTS+=(api)
((${#PARTS[@]})) || PARTS=(unit lua api)
((${#FILES[@]})) || FILES=("${API_SPECS[@]}")
wants() {
    local p
    for p in "${PARTS[@]}"; do [[ $p == "$1" ]] && return 0; done
    return 1
}

command -v valgrind >/dev/null || {
    echo "valgrind.sh: valgrind is not installed (make deps)" >&2
    exit 2
}
[[ -x $BUILD/speezy ]] || {
    echo "valgrind.sh: $BUILD/speezy is missing (make build)" >&2
    exit 2
}

mkdir -p "$LOG_DIR"
# shellcheck disable=SC2012
ls -1dt "$ROOT/$BUILD"/test-logs/valgrind-* 2>/dev/null | tail -n +4 | xargs -r rm -rf

PASSED=0
FAILED=0
SUMMARY=()
FAILURES=()

# Adds counts and a summary line; a failure's details are shown at the end.
record() { # name passed failed seconds [note] [details-file]
    PASSED=$((PASSED + $2))
    FAILED=$((FAILED + $3))
    SUMMARY+=("$(printf '%-40s %4d passed, %3d failed  (%ss)%s' "$1" "$2" "$3" "$4" "${5:+  $5}")")
    (($3 > 0)) && [[ -n ${6:-} ]] && FAILURES+=("$6")
}

# --- servers -----------------------------------------------------------------------------

TMP=$(mktemp -d /tmp/speezy-valgrind.XXXXXX)
chmod 755 "$TMP"
OWN_SERVERS=0
if [[ -z ${SPEEZY_TEST_SERVERS_DIR:-} || ! -f ${SPEEZY_TEST_SERVERS_DIR:-}/env ]]; then
    OWN_SERVERS=1
    export SPEEZY_TEST_SERVERS_DIR=$TMP/servers
    export SPEEZY_TEST_TMP=$TMP/api SPEEZY_TEST_PIDS=$TMP/pids
    mkdir -p "$SPEEZY_TEST_TMP"
fi
export SPEEZY_ROOT=$ROOT

# Kills what the specs left running (only processes started under our temp dir), stops our
# own servers.
cleanup() {
    local pid kid
    if ((OWN_SERVERS)); then
        if [[ -f $TMP/pids ]]; then
            while read -r pid; do
                { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null |
                    grep -qxF "SPEEZY_TEST_TMP=$TMP/api" || continue
                for kid in $(pgrep -P "$pid" 2>/dev/null); do kill -KILL "$kid" 2>/dev/null; done
                kill -KILL "$pid" 2>/dev/null
            done <"$TMP/pids"
        fi
        spec/tools/servers.sh destroy "$TMP/servers" >>"$LOG_DIR/servers.log" 2>&1 || true
        if compgen -G "$TMP/api/*" >/dev/null; then
            mkdir -p "$LOG_DIR/api-servers"
            cp -R "$TMP/api/." "$LOG_DIR/api-servers/" 2>/dev/null || true
        fi
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "valgrind.sh: interrupted" >&2; exit 130' INT TERM

if ((OWN_SERVERS)); then
    t0=$SECONDS
    if ! timeout 120 spec/tools/servers.sh start "$TMP/servers" \
        >"$LOG_DIR/servers.log" 2>&1; then
        record "servers" 0 1 $((SECONDS - t0)) "" "$LOG_DIR/servers.log"
    fi
fi
envfile=$SPEEZY_TEST_SERVERS_DIR/env
DATABASE_URL_TCP=$(sed -n 's/^DATABASE_URL=//p' "$envfile" 2>/dev/null)
REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$envfile" 2>/dev/null)
PG_PORT=$(sed -n 's/^PG_PORT=//p' "$envfile" 2>/dev/null)
PGDATA=$(sed -n 's/^PGDATA=//p' "$envfile" 2>/dev/null)
# servers.sh puts the socket beside the data dir when the path is short enough for one.
DATABASE_URL_SOCKET=$DATABASE_URL_TCP
if [[ -n $PGDATA && -S $(dirname "$PGDATA")/.s.PGSQL.$PG_PORT ]]; then
    DATABASE_URL_SOCKET="postgresql://postgres@/speezy?host=$(dirname "$PGDATA")&port=$PG_PORT"
fi

# --- memcheck logs -----------------------------------------------------------------------

# Prints every error report in the valgrind logs of a folder (a message line followed by a
# stack: "Invalid read", "Conditional jump ... uninitialised", "Syscall param ...", a death
# by signal); returns the number found. Exit codes can't say it: workers are killed, or
# stopped by their master, before valgrind's own summary.
memcheck_errors() { # dir
    local n
    n=$(awk '
        /^==[0-9]+== [^ ]/ { pending = $0; extra = ""; next }
        /^==[0-9]+==  [^ ]/ && pending != "" { extra = extra "\n" $0; next }
        /^==[0-9]+==    at 0x/ && pending != "" {
            n++; print FILENAME ":"; print pending extra; pending = ""; inblock = 1; print; next
        }
        /^==[0-9]+== *$/ { inblock = 0; pending = ""; next }
        inblock { print; next }
        { pending = "" }
        END { print n + 0 > "/dev/stderr" }
    ' "$1"/vg.*.log 2>&1 >"$1/memcheck-errors.txt")
    echo "${n:-0}"
}

# One "memcheck clean" check for what ran in dir.
record_memcheck() { # name dir seconds
    local n
    if ! compgen -G "$2/vg.*.log" >/dev/null; then
        record "$1 memcheck" 0 1 "$3" "no valgrind log in ${2#"$ROOT"/}"
        return
    fi
    n=$(memcheck_errors "$2")
    if ((n == 0)); then
        record "$1 memcheck ($(find "$2" -name 'vg.*.log' | wc -l) processes)" 1 0 "$3"
    else
        record "$1 memcheck" 0 1 "$3" "$n error reports" "$2/memcheck-errors.txt"
    fi
}

VALGRIND=(valgrind --tool=memcheck --quiet --error-exitcode=99 --track-origins=yes
    --leak-check=no --num-callers=30 --suppressions="$SUPP")

# --- unit --------------------------------------------------------------------------------

part_unit() {
    local bin name dir t0 rc counts p f note
    for bin in "$BUILD"/test_*; do
        [[ -x $bin && -f $bin ]] || continue
        name=$(basename "$bin")
        dir=$LOG_DIR/unit-$name
        mkdir -p "$dir"
        t0=$SECONDS
        SPEEZY_TEST_DATABASE_URL=$DATABASE_URL_TCP SPEEZY_TEST_REDIS_URL=$REDIS_URL \
            SPEEZY_TEST_TIME_SCALE=20 \
            timeout -k 5 "$UNIT_TIMEOUT" "${VALGRIND[@]}" --log-file="$dir/vg.%p.log" "$bin" \
            >"$dir/output.log" 2>&1
        rc=$?
        counts=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$dir/output.log" | tail -n1)
        note=""
        if [[ -z $counts ]]; then
            p=0 f=1 note="no summary (exit $rc)"
        else
            read -r p _ f _ <<<"$counts"
            ((rc != 0 && rc != 99 && f == 0)) && f=1 note="exit $rc after its summary"
        fi
        ((rc == 124)) && note="timed out after ${UNIT_TIMEOUT}s"
        record "unit $name" "$p" "$f" $((SECONDS - t0)) "$note" "$dir/output.log"
        record_memcheck "unit $name" "$dir" 0
    done
}

# --- lua ---------------------------------------------------------------------------------

# The in-host Lua specs (`speezy test`): every binding (json, pg rows, redis replies) with
# LuaJIT around it. Waits stretched: a spec that computes for seconds under memcheck (the
# JSON ones) keeps the loop from seeing a finished connect before its timer fires, and the
# first query may come before the pool is up.
part_lua() {
    local dir=$LOG_DIR/lua t0=$SECONDS rc counts p f note=""
    local specs=(spec/lua/*_spec.lua)
    [[ -e ${specs[0]} ]] || return
    mkdir -p "$dir"
    SPEEZY_VALGRIND_LOGS=$dir SPEEZY_ENV=test DATABASE_URL=$DATABASE_URL_SOCKET \
        REDIS_URL=$REDIS_URL PG_POOL_WAIT_MS=30000 PG_CONNECT_TIMEOUT_MS=60000 \
        REDIS_TIMEOUT_MS=60000 \
        timeout -k 5 "$UNIT_TIMEOUT" spec/tools/valgrind-speezy test "${specs[@]}" \
        >"$dir/output.log" 2>&1
    rc=$?
    counts=$(grep -aE '^[0-9]+ passed, [0-9]+ failed$' "$dir/output.log" | tail -n1)
    if [[ -z $counts ]]; then
        p=0 f=1 note="no summary (exit $rc)"
    else
        read -r p _ f _ <<<"$counts"
        ((rc != 0 && rc != 99 && f == 0)) && f=1 note="exit $rc after its summary"
    fi
    record "lua (speezy test)" "$p" "$f" $((SECONDS - t0)) "$note" "$dir/output.log"
    record_memcheck "lua (speezy test)" "$dir" 0
}

# --- api ---------------------------------------------------------------------------------

# busted's TAP output: "ok N - name" / "not ok N - name"; a pending test (# SKIP/TODO)
# or a file that ran no test counts as a failure.
part_api() {
    local file name dir t0 rc p f note filter
    for file in "${FILES[@]}"; do
        name=$(basename "$file" .lua)
        dir=$LOG_DIR/api-$name
        mkdir -p "$dir"
        t0=$SECONDS
        filter=()
        [[ -n ${API_FILTER_OUT[$file]:-} ]] && filter=(--filter-out="${API_FILTER_OUT[$file]}")
        SPEEZY_BIN=$ROOT/spec/tools/valgrind-speezy SPEEZY_RELEASE_BIN=$ROOT/spec/tools/valgrind-speezy \
            SPEEZY_VALGRIND_LOGS=$dir \
            SPEEZY_TEST_DATABASE_URL=$DATABASE_URL_SOCKET SPEEZY_TEST_REDIS_URL=$REDIS_URL \
            timeout -k 5 "$API_TIMEOUT" luajit /usr/bin/busted --ignore-lua -o TAP \
            "${filter[@]}" "$file" >"$dir/output.log" 2>&1
        rc=$?
        p=$(grep -cE '^ok [0-9]+' "$dir/output.log")
        f=$(grep -cE '^not ok [0-9]+' "$dir/output.log")
        note=""
        if grep -qE '^ok [0-9]+.*# (SKIP|TODO)' "$dir/output.log"; then
            f=$((f + 1)) note="pending tests"
        fi
        ((p + f == 0)) && f=1 note="no test ran (exit $rc)"
        ((rc != 0 && f == 0)) && f=1 note="busted exit $rc"
        ((rc == 124)) && note="timed out after ${API_TIMEOUT}s"
        record "api $name" "$p" "$f" $((SECONDS - t0)) "$note" "$dir/output.log"
        record_memcheck "api $name" "$dir" 0
    done
}

# The migrations' runner under memcheck too (it also prepares the database for the specs).
part_migrate() {
    local dir=$LOG_DIR/migrate t0=$SECONDS
    mkdir -p "$dir"
    if SPEEZY_VALGRIND_LOGS=$dir DATABASE_URL=$DATABASE_URL_SOCKET timeout 600 \
        spec/tools/valgrind-speezy migrate >"$dir/output.log" 2>&1; then
        record "migrate" 1 0 $((SECONDS - t0))
    else
        record "migrate" 0 1 $((SECONDS - t0)) "" "$dir/output.log"
    fi
    record_memcheck "migrate" "$dir" 0
}

T_START=$SECONDS
if [[ -n $DATABASE_URL_TCP ]]; then
    part_migrate
    wants unit && part_unit
    wants lua && part_lua
    wants api && part_api
fi

{
    for line in "${SUMMARY[@]}"; do echo "$line"; done
    if ((${#FAILURES[@]})); then
        echo "--- failures (full logs in ${LOG_DIR#"$ROOT"/}/)"
        for log in "${FAILURES[@]}"; do
            echo "--- ${log#"$ROOT"/}"
            if [[ $log == */memcheck-errors.txt ]]; then
                head -n 120 "$log"
            elif grep -qE '^not ok' "$log"; then
                grep -aE -A15 '^not ok' "$log" | head -n 80
            else
                tail -n 25 "$log"
            fi
        done
    fi
    echo "valgrind: $((SECONDS - T_START))s in all"
    echo "$PASSED passed, $FAILED failed"
} | tee "$LOG_DIR/summary.txt"
((FAILED == 0))

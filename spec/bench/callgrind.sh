#!/usr/bin/env bash
# spec/bench/callgrind.sh [BIN] [LOG_LEVEL] [N] [PATH] — instructions one worker spends per
# GET PATH (default /hello), counted by valgrind's callgrind: the same figure for the same
# binary whatever else the machine does, so two builds compare without the noise of a timed run.
#
# Runs `BIN serve` (default build/speezy, WORKERS=1) under callgrind twice: once answering 1
# request, once 1 + N (default 5000), and prints (worker instructions of the second - of the
# first) / N. The requests go one after another on one keep-alive connection (curl's URL
# glob), or with CALLGRIND_PARALLEL=P over P connections at once (curl --parallel), so that
# requests share loop turns as they do under wrk (how many do varies from run to run: compare
# such figures over several runs). LOG_LEVEL info (default) includes the access line; warn
# leaves it out, as make bench does.
#
# /hello is served by scripts/ without databases, /claims (make bench's S2) by
# spec/bench/scripts/jwt, /user/me (S5) by scripts/, and any other path (/redis and /users/ID
# are S3 and S4) by spec/bench/scripts/data. /claims and /user/me carry make bench's access
# token (minted with node: spec/bench/node is installed as make bench installs it), and so does
# /graphql (S8), POSTed with CALLGRIND_BODY (e.g. '{"query":"{ me { id phone role } }"}'). Paths but
# /hello and /claims run against a PostgreSQL + Redis seeded as make bench seeds them
# (spec/bench/data.sh): those in BENCH_SERVERS=DIR (started there if they are not running,
# and left running for the next call), else fresh ones in a temp dir.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BIN=$(realpath "${1:-$ROOT/build/speezy}")
LEVEL=${2:-info}
N=${3:-5000}
URL_PATH=${4:-/hello}
PARALLEL=${CALLGRIND_PARALLEL:-1}

SCRIPTS=$ROOT/scripts
DATABASE_URL=
REDIS_URL=
SERVERS=
JWT_SECRET=
AUTH=()
# shellcheck source=spec/bench/lib.sh
source "$ROOT/spec/bench/lib.sh"
# shellcheck source=spec/bench/data.sh
source "$ROOT/spec/bench/data.sh"
if [[ $URL_PATH != /hello && $URL_PATH != /claims ]]; then
    [[ $URL_PATH == /user/me || $URL_PATH == /graphql ]] || SCRIPTS=$ROOT/spec/bench/scripts/data
    SERVERS=${BENCH_SERVERS:-}
    if [[ -z $SERVERS ]]; then
        SERVERS=$(mktemp -d /tmp/speezy-callgrind-servers.XXXXXX)
        trap 'spec/tools/servers.sh destroy "$SERVERS" >/dev/null 2>&1 || true' EXIT
    fi
    bench_data "$SERVERS" "$BIN"
fi
if [[ $URL_PATH == /claims || $URL_PATH == /user/me || $URL_PATH == /graphql ]]; then
    [[ $URL_PATH == /claims ]] || bench_session
    [[ $URL_PATH == /claims ]] && SCRIPTS=$ROOT/spec/bench/scripts/jwt
    install_node "$ROOT/spec/bench"
    JWT_SECRET=$(random_secret)
    bench_token
    AUTH=(-H "Authorization: Bearer $TOKEN")
fi
SEP='?'
BODY=()
[[ -z ${CALLGRIND_BODY:-} ]] ||
    BODY=(-H "Content-Type: application/json" --data-binary "$CALLGRIND_BODY")
[[ $URL_PATH == *\?* ]] && SEP='&'

# The worker's instruction count after serving 1 + $1 requests (the largest process total).
count() {
    local dir port master
    dir=$(mktemp -d /tmp/speezy-callgrind.XXXXXX)
    port=$((20000 + RANDOM % 20000))
    (cd "$dir" && SPEEZY_ENV=test WORKERS=1 HOST=127.0.0.1 PORT=$port LOG_LEVEL=$LEVEL \
        SCRIPTS_DIR="$SCRIPTS" PID_FILE="$dir/pid" DATABASE_URL=$DATABASE_URL \
        REDIS_URL=$REDIS_URL JWT_SECRET=$JWT_SECRET PG_POOL_SIZE=10 \
        PG_CONNECT_TIMEOUT_MS=120000 \
        exec valgrind --tool=callgrind --callgrind-out-file="$dir/cg.%p" "$BIN" serve \
        >"$dir/log" 2>&1) &
    master=$!
    for _ in $(seq 150); do
        curl -fs "${AUTH[@]}" "${BODY[@]}" "http://127.0.0.1:$port$URL_PATH" >/dev/null && break
        sleep 0.2
    done
    # The pool's 10 PostgreSQL logins (SCRAM, slow under valgrind: hence the connect timeout)
    # done in both runs.
    for _ in $(seq 150); do
        [[ -z $DATABASE_URL ]] && break
        (($(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND backend_type = 'client backend'
            AND state = 'idle' AND pid <> pg_backend_pid()") >= 10)) && break
        sleep 0.2
    done
    if (($1 && PARALLEL > 1)); then
        # (curl draws its parallel progress meter even with -s)
        curl -fs -o /dev/null --parallel --parallel-max "$PARALLEL" "${AUTH[@]}" "${BODY[@]}" \
            "http://127.0.0.1:$port$URL_PATH${SEP}[1-$1]" 2>/dev/null
    elif (($1)); then
        curl -fs -o /dev/null "${AUTH[@]}" "${BODY[@]}" "http://127.0.0.1:$port$URL_PATH${SEP}[1-$1]"
    fi
    if ! kill -TERM "$master" 2>/dev/null; then
        echo "callgrind.sh: speezy stopped early:" >&2
        cat "$dir/log" >&2
        exit 1
    fi
    wait "$master" || true
    sed -n 's/^summary: //p' "$dir"/cg.* | sort -n | tail -n1
    if [[ -n ${CALLGRIND_KEEP:-} ]]; then cp "$dir"/cg.* "$CALLGRIND_KEEP"/ 2>/dev/null || true; fi
    rm -rf "$dir"
}

base=$(count 0)
total=$(count "$N")
conns="one connection"
((PARALLEL > 1)) && conns="$PARALLEL connections"
echo "$(basename "$BIN") LOG_LEVEL=$LEVEL: $(((total - base) / N)) instructions per GET $URL_PATH" \
    "(N=$N over $conns)"

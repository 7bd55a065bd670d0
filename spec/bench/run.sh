#!/usr/bin/env bash
# spec/bench/run.sh — `make bench`: speezy against Fastify 5 on the same routes, then the job
# queue against BullMQ 5, in one run.
#
#   S1  GET /hello            a Lua handler returning {"success":true,"message":"hello"}
#   S2  GET /claims           verifies the Bearer access token (speezy.jwt; Fastify:
#                             @fastify/jwt) and answers its claims
#   S3  GET /redis            a Redis GET through the handler (Fastify: ioredis)
#   S4  GET /users/<random>   SELECT id, phone, name, role FROM users WHERE id=$1 over 10,000
#                             rows, pool of 10 (Fastify: pg)
#   S5  GET /user/me          the real route (SCRIPTS_DIR=scripts: scripts/routes/user.lua):
#                             the token, its session live (Redis GET sess:<sid>), the user's
#                             row; Fastify: @fastify/jwt + ioredis + pg doing the same
#   S6  POST /store           the real route (scripts/, issue #16): a store owner's token, the
#                             body's schema, a fresh Idempotency-Key per request (claimed in
#                             idempotency_keys), address + store in one transaction, the
#                             response stored; Fastify: Ajv schema, @fastify/jwt, pg doing the
#                             same (spec/bench/fastify/stores.js, wrk/store_post.lua)
#   S7  GET /store/<id>       the store and its address, the route with its options (params
#                             schema); speezy also the same query on a twin route without
#                             options, GET /bench/store/<id> ("s7-plain"), served with it from
#                             a copy of scripts/ with spec/bench/scripts/store_twin.lua added.
#   S8  POST /graphql         `{ me { id phone role } }` with the Bearer token (issue #17): the
#                             real schema and resolvers (scripts/graphql/), against speezy's REST
#                             GET /user/me ("s8-rest", S5's route) and Mercurius (npm mercurius
#                             on Fastify: @fastify/jwt, the session in Redis, pg; its document
#                             cache on and JIT off, its defaults: spec/bench/fastify/mercurius.js),
#                             the three servers up together, their runs alternating
#   S9  POST /graphql         `{ stores(first: 20) { edges { node { id name owner { id phone }
#                             address { city } } } } }` as an ADMIN (owners are theirs to see):
#                             a page of 20 stores (seeded
#                             with 20 owners and addresses of their own) on speezy and on Mercurius
#                             (its loaders batch owners and addresses); besides CPU, the SQL
#                             statements each request costs (below)
#   queue                     jobs added and run per second, CPU per job of the process and of
#                             Redis, latency of a lone job: spec/bench/queue.sh (its settings are
#                             BENCH_QUEUE_*; run it alone for the queue only)
#
# Each server runs pinned to CPU 0 (speezy with WORKERS=1); wrk -t1 -c64 runs on CPU 1.
# Each stack and scenario is measured BENCH_REPEAT times on the same warm server; S1 and S2 of
# a stack run on two servers up together, their runs alternating (S1, S2, S1, S2...), since
# the S2 target compares them and a shared machine changes speed from minute to minute. A row
# reports the median run by server CPU µs per request (utime+stime of every process of the
# server over the run, from /proc/PID/stat, divided by the requests wrk completed), with the
# runs' range next to it, and that run's req/s and p99; non-2xx and socket errors add up over
# all runs. RSS idle and after load (all processes; speezy also its worker alone).
# S3/S4/S5 use a PostgreSQL + Redis started by spec/tools/servers.sh in a temp dir, with the
# migrations applied. S2 and S5 send one access token, minted for the run by @fastify/jwt's
# signer with speezy's kid and claims (spec/bench/fastify/token.js) under a JWT_SECRET made for
# the run, for the first seeded user and a live session seeded as scripts/auth/session.lua
# opens one (spec/bench/data.sh); both stacks must accept it before they are measured. S6
# and S7 likewise use a STORE_OWNER user with its own session and token, and one seeded store;
# S8 the token of S5. A GraphQL answer is checked before it is measured (S8: the token's user;
# S9: 20 stores, each with its owner and address, no error): a speezy without /graphql (a 404)
# or with another answer fails the scenario with the answer shown.
# SQL statements per request (S8, S9): after the warm-up, PostgreSQL's log_statement is set to
# `all` (ALTER SYSTEM, reload) while BENCH_SQL_REQUESTS (10) requests are sent one at a time with
# curl, then reset; the statements PostgreSQL logged in between (lines "statement:" and
# "execute <name>:" of its log) are listed by text, and those every request ran are counted
# (count_sql: speezy's background jobs, in any server up, log some too).
# Fastify, Mercurius and their drivers are installed with npm into spec/bench/node/ (ignored)
# from spec/bench/fastify/package-lock.json.
#
# Settings: BENCH_DURATION (s, default 10), BENCH_REPEAT (3), BENCH_CONNECTIONS (64),
# BENCH_SCENARIOS ("s1 s2 s3 s4 s5 s6 s7 s8 s9 queue"), BENCH_STACKS ("speezy fastify": fastify
# is the Node stack, Mercurius in S8 and S9), BENCH_SQL_REQUESTS (10), BENCH_LOG_LEVEL (warn: no
# access log, like Fastify's logger:false), SPEEZY_BIN (build/speezy).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH=$ROOT/spec/bench
# shellcheck source=spec/bench/lib.sh
. "$BENCH/lib.sh"
BIN=${SPEEZY_BIN:-$ROOT/build/speezy}
DURATION=${BENCH_DURATION:-10}
REPEAT=${BENCH_REPEAT:-3}
CONNS=${BENCH_CONNECTIONS:-64}
SCENARIOS=${BENCH_SCENARIOS:-s1 s2 s3 s4 s5 s6 s7 s8 s9 queue}
HTTP_SCENARIOS=$(tr ' ' '\n' <<<"$SCENARIOS" | grep -vx 'queue' | xargs || true)
STACKS=${BENCH_STACKS:-speezy fastify}
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
SQL_REQUESTS=${BENCH_SQL_REQUESTS:-10}

if [[ -z $HTTP_SCENARIOS ]]; then
    [[ $SCENARIOS != *queue* ]] || exec "$BENCH/queue.sh"
    exit 0
fi

TMP=$(mktemp -d /tmp/speezy-bench.XXXXXX)
chmod 755 "$TMP"
SERVER_PID=
ROWS=()
FAILED=() # the slots that could not be measured for a fault (not a skip): make bench exits 1

cleanup() {
    stop_all
    if [[ -d $TMP/servers ]]; then
        spec/tools/servers.sh destroy "$TMP/servers" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in wrk taskset node npm curl psql redis-cli python3; do
    command -v "$tool" >/dev/null || {
        say "$tool is missing (make deps installs it)"
        exit 1
    }
done
[[ -x $BIN ]] || {
    say "$BIN is missing: run make build"
    exit 1
}

# --- PostgreSQL + Redis for S3/S4/S5 --------------------------------------------------------
DATA_READY=0
ID_LO=1
ID_HI=10000
# shellcheck source=spec/bench/data.sh
source "$BENCH/data.sh"
prepare_data() {
    say "starting PostgreSQL + Redis"
    if bench_data "$TMP/servers" "$BIN"; then
        DATA_READY=1
        [[ $HTTP_SCENARIOS != *s5* && $HTTP_SCENARIOS != *s8* ]] || bench_session || true
        # first: its stores are the first page by id
        [[ $HTTP_SCENARIOS != *s9* ]] || bench_stores || true
        [[ $HTTP_SCENARIOS != *s6* && $HTTP_SCENARIOS != *s7* ]] || bench_store_owner || true
    else
        say "S3 to S9 skipped"
    fi
}

# --- the access token of S2, S5 and S8 ------------------------------------------------------------
# Secrets made for this run: nothing outside it can mint or read its tokens.
JWT_SECRET=$(random_secret)
OTP_SECRET=$(random_secret)
TOKEN=
OWNER_TOKEN=
STORE_ID=
# S6's body: the seed's POST /store example (spec/bench/wrk/store_post.lua sends the same).
STORE_BODY='{"name":"My Store","description":"Best store in town","phone":"9876543210","address":{"street":"123 Main St","city":"CityName","state":"StateName","postalCode":"123456","country":"CountryName","latitude":12.3456,"longitude":78.9012}}'
# The GraphQL requests of S8 and S9 (spec/bench/wrk/graphql.lua sends them).
ME_BODY='{"query":"{ me { id phone role } }"}'
STORES_BODY='{"query":"{ stores(first: 20) { edges { node { id name owner { id phone } address { city } } } } }"}'

# --- measuring ------------------------------------------------------------------------------
# A server under measure lives in a slot named "stack-scenario": its PID, port, idle RSS and the
# runs measured on it. Several slots may be up at once (measure_together).
SERVER_PID= # the slot being started or stopped
declare -A SLOT_PID SLOT_PORT SLOT_RSS SLOT_WORKER SLOT_RUNS SLOT_NON2XX SLOT_ERRS SLOT_SCRIPT
declare -A SLOT_PATH SLOT_SQL SLOT_SQL_TOP

# The server's PID and every descendant's.
server_pids() { tree_pids "$SERVER_PID"; }

# utime + stime (clock ticks) summed over the server's processes.
cpu_ticks() { tree_ticks "${1:-$SERVER_PID}"; }

rss_kb() { # [pid...] (default: all of the server's)
    local pid total=0 kb pids=("$@")
    ((${#pids[@]})) || mapfile -t pids < <(server_pids)
    for pid in "${pids[@]}"; do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pids
    pids=$(server_pids)
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        [[ -d /proc/$SERVER_PID ]] || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# Every slot still up (an interrupted run).
stop_all() {
    local slot
    stop_server
    for slot in "${!SLOT_PID[@]}"; do
        SERVER_PID=${SLOT_PID[$slot]}
        stop_server
        unset "SLOT_PID[$slot]"
    done
}

start_server() { # stack scenario port
    local stack=$1 scenario=$2 port=$3 scripts=$BENCH/scripts/hello
    local env=(PORT="$port")
    case $scenario in
    s2)
        scripts=$BENCH/scripts/jwt
        env+=(JWT_SECRET="$JWT_SECRET")
        ;;
    s5 | s6 | s7* | s8* | s9) # the application's own scripts, as `make run` serves them
        scripts=$ROOT/scripts
        if [[ $scenario == s7* ]]; then # S7's twin route without options, beside the real ones
            scripts=$TMP/scripts-s7
            rm -rf "$scripts" && cp -r "$ROOT/scripts" "$scripts"
            cp "$BENCH/scripts/store_twin.lua" "$scripts/routes/bench_store.lua"
            echo 'require "routes.bench_store"' >>"$scripts/app.lua"
        fi
        env+=(DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL" JWT_SECRET="$JWT_SECRET"
            OTP_SECRET="$OTP_SECRET")
        ;;
    s1) ;;
    *)
        scripts=$BENCH/scripts/data
        env+=(DATABASE_URL="$DATABASE_URL" REDIS_URL="$REDIS_URL")
        ;;
    esac
    if [[ $stack == speezy ]]; then
        env+=(SPEEZY_ENV=test WORKERS=1 HOST=127.0.0.1 LOG_LEVEL="$LOG_LEVEL" PG_POOL_SIZE=10
            SCRIPTS_DIR="$scripts" PID_FILE="$TMP/speezy.pid")
        (cd "$TMP" && exec env "${env[@]}" taskset -c 0 "$BIN" serve) >"$TMP/$stack-$scenario.log" 2>&1 &
    else
        local app=app.js
        [[ $stack == mercurius ]] && app=mercurius.js
        env+=(NODE_ENV=production)
        (cd "$TMP" && exec env "${env[@]}" taskset -c 0 node "$BENCH/node/$app") \
            >"$TMP/$stack-$scenario.log" 2>&1 &
    fi
    SERVER_PID=$!
    local probe=/healthz
    [[ $stack == fastify ]] && probe=/hello
    [[ $stack == mercurius ]] && probe='/graphql?query=%7B__typename%7D'
    for _ in $(seq 100); do
        [[ -d /proc/$SERVER_PID ]] || break
        curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port$probe" && return 0
        sleep 0.1
    done
    say "$stack did not start; its log:"
    tail -n 20 "$TMP/$stack-$scenario.log" >&2
    return 1
}

# One request of the scenario as its probe and its SQL count send it: the curl arguments in
# REQ_ARGS and the status it must get in REQ_WANT. 1 when the scenario's answer is not checked.
request_of() { # stack scenario
    REQ_WANT=200
    REQ_ARGS=()
    case $2 in
    s2 | s5 | s8-rest) REQ_ARGS=(-H "Authorization: Bearer $TOKEN") ;;
    s6)
        REQ_WANT=201
        REQ_ARGS=(-X POST -H "Authorization: Bearer $OWNER_TOKEN" -H "Content-Type: application/json"
            -H "Idempotency-Key: probe-$1-$$-$RANDOM$RANDOM" --data-binary "$STORE_BODY")
        ;;
    s7*) ;;
    s8 | s9)
        local body=$ME_BODY
        [[ $2 == s9 ]] && body=$STORES_BODY
        REQ_ARGS=(-X POST -H "Content-Type: application/json"
            -H "Accept: application/graphql-response+json, application/json" --data-binary "$body")
        if [[ $2 == s9 ]]; then
            REQ_ARGS+=(-H "Authorization: Bearer $ADMIN_TOKEN")
        else
            REQ_ARGS+=(-H "Authorization: Bearer $TOKEN")
        fi
        ;;
    *) return 1 ;;
    esac
}

# Whether a GraphQL answer (a file) is the one the scenario measures, without errors: S8 the
# token's user (ID_LO) with its phone and role, S9 20 stores, each with its owner's id and its
# address' city. Says what it found on stdout, or what is wrong on stderr (then 1).
gql_check() { # scenario file
    python3 - "$1" "$2" "${ID_LO:-}" <<'PY'
import json
import sys

scenario, path, user_id = sys.argv[1:4]
try:
    with open(path, encoding="utf-8") as f:
        answer = json.load(f)
except ValueError as e:
    sys.exit(f"the answer is not JSON ({e})")
if not isinstance(answer, dict):
    sys.exit("the answer is not a JSON object")
if answer.get("errors"):
    sys.exit("the answer has errors: " + json.dumps(answer["errors"])[:600])
data = answer.get("data") or {}
if scenario == "s8":
    me = data.get("me") or {}
    if str(me.get("id")) != user_id or not me.get("phone") or not me.get("role"):
        sys.exit(f"me is {json.dumps(me)}, not user {user_id} with its phone and role")
    print(f"me is user {user_id}, {me['role']}")
else:
    edges = (data.get("stores") or {}).get("edges") or []
    nodes = [e.get("node") or {} for e in edges]
    whole = [n for n in nodes
             if (n.get("owner") or {}).get("id") and (n.get("address") or {}).get("city")]
    if len(nodes) != 20 or len(whole) != 20:
        sys.exit(f"{len(nodes)} stores, {len(whole)} of them with their owner's id and their "
                 "address' city; 20 of each wanted")
    owners = len({n["owner"]["id"] for n in nodes})
    print(f"20 stores (ids {nodes[0].get('id')} to {nodes[-1].get('id')}), {owners} owners")
PY
}

# Whether the scenario's route answers as it should before it is measured (S2/S5: the token
# accepted, S6: a store created, S7: the store read, S8/S9: the GraphQL answer, gql_check): 0
# yes; 1 speezy has no such route yet (a 404 from the router: S6/S7 before scripts/ has them),
# said; 3 speezy has no /graphql (S8/S9: a 404), said; 2 anything else, said with the answer
# and the server's log.
probe() { # stack scenario port path
    local stack=$1 scenario=$2 path=$4 status why
    request_of "$stack" "$scenario" || return 0
    status=$(curl -s -m 5 -o "$TMP/probe.out" -w '%{http_code}' "${REQ_ARGS[@]}" \
        "http://127.0.0.1:$3$path") || status=000
    if [[ $status == "$REQ_WANT" ]]; then
        [[ $scenario == s8 || $scenario == s9 ]] || return 0
        if why=$(gql_check "$scenario" "$TMP/probe.out" 2>&1); then
            say "$scenario $stack answers: $why"
            return 0
        fi
        say "$scenario $stack: $why; its answer and log:"
    elif [[ $stack == speezy && $status == 404 && $scenario =~ ^s(8|9)$ ]]; then
        say "$scenario FAILED on speezy: POST $path answered 404: this build serves no GraphQL" \
            "endpoint (issue #17: host/lib/speezy/graphql*, and a schema in scripts/graphql/)"
        return 3
    elif [[ $stack == speezy && $status == 404 && $scenario =~ ^s(6|7) ]] &&
        grep -q 'no route matches this path' "$TMP/probe.out"; then
        say "$scenario skipped on speezy: no route answers $path yet (scripts/ lacks it)"
        return 1
    else
        say "$stack answered $status, not $REQ_WANT, on $path; its answer and log:"
    fi
    cat "$TMP/probe.out" >&2 || true
    echo >&2
    tail -n 20 "$TMP/$stack-$scenario.log" >&2
    return 2
}

# The SQL statements one request of the slot's scenario costs: PostgreSQL logs every statement
# (log_statement = all, for this count only) while SQL_REQUESTS requests go one at a time,
# once the server has finished what the warm-up left it. The same request repeated runs the
# same statements, so a statement logged c times counts c / SQL_REQUESTS (rounded down) per
# request: what runs in fewer than every request is not a request's cost (speezy's background
# jobs, such as the outbox sweeper and the scheduled cleanup, or a cache filled once) and
# counts 0. SLOT_SQL gets the count per request, and every statement logged, with how many times;
# SLOT_SQL_TOP the list by text.
count_sql() { # slot
    local slot=$1 stack=${1%%-*} scenario=${1#*-} log=$TMP/servers/pg/postgresql.log from to i
    local lines=$TMP/sql-$1.log t0 t1
    SLOT_SQL[$slot]=""
    if [[ ! -r $log ]]; then
        say "$slot: no PostgreSQL log at $log, SQL statements not counted"
        return 0
    fi
    request_of "$stack" "$scenario" || return 0
    # requests the warm-up's wrk left queued are served before the count starts
    t1=$(cpu_ticks "${SLOT_PID[$slot]}")
    for _ in $(seq 50); do
        sleep 0.2
        t0=$t1
        t1=$(cpu_ticks "${SLOT_PID[$slot]}")
        ((t1 != t0)) || break
    done
    psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET log_statement = 'all'" \
        -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 0.5 # the backends read the reloaded setting before their next statement
    from=$(stat -c %s "$log")
    for ((i = 0; i < SQL_REQUESTS; i++)); do
        curl -s -m 5 -o /dev/null "${REQ_ARGS[@]}" \
            "http://127.0.0.1:${SLOT_PORT[$slot]}${SLOT_PATH[$slot]}" || true
    done
    to=$(stat -c %s "$log")
    psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c 'ALTER SYSTEM RESET log_statement' \
        -c 'SELECT pg_reload_conf()' >/dev/null
    tail -c +$((from + 1)) "$log" | head -c $((to - from)) |
        sed -nE 's/.*LOG:  (statement|execute [^:]*): //p' | tr -s ' \t' ' ' |
        sort | uniq -c | sort -rn >"$lines"
    SLOT_SQL[$slot]=$(awk -v r="$SQL_REQUESTS" '{ per += int($1 / r); all += $1 }
        END { printf "%d (%d statements logged over %d requests)", per, all, r }' "$lines")
    SLOT_SQL_TOP[$slot]=$(awk -v r="$SQL_REQUESTS" '{ n = $1; sub(/^ *[0-9]+ /, "")
        printf "%sx %s%s\n", n, substr($0, 1, 90), n < r ? "  (not in every request)" : "" }' \
        "$lines")
}

# Starts a slot's server and checks it: "up" or a failed row in ROWS.
slot_up() { # stack scenario path [wrk script]
    local stack=$1 scenario=$2 path=$3 script=${4:-} slot=$1-$2 port
    port=$(free_port)
    SERVER_PID=
    if ! start_server "$stack" "$scenario" "$port"; then
        ROWS+=("$scenario|$stack|failed to start||||||")
        FAILED+=("$slot")
        stop_server
        return 1
    fi
    # Only answers as the route gives them are measured: a refused token would time the 401.
    local rc=0
    probe "$stack" "$scenario" "$port" "$path" || rc=$?
    if ((rc != 0)); then
        if ((rc == 1)); then
            ROWS+=("$scenario|$stack|skipped: no route||||||")
        elif ((rc == 3)); then
            ROWS+=("$scenario|$stack|FAILED: no /graphql (404)||||||")
            FAILED+=("$slot")
        else
            ROWS+=("$scenario|$stack|probe failed||||||")
            FAILED+=("$slot")
        fi
        stop_server
        return 1
    fi
    sleep 0.5
    SLOT_PID[$slot]=$SERVER_PID
    SLOT_PORT[$slot]=$port
    SLOT_PATH[$slot]=$path
    SLOT_SCRIPT[$slot]=$script
    SLOT_RSS[$slot]=$(rss_kb)
    SLOT_WORKER[$slot]=""
    if [[ $stack == speezy ]]; then
        # shellcheck disable=SC2046
        SLOT_WORKER[$slot]=$(rss_kb $(pgrep -P "$SERVER_PID" | head -n1))
    fi
    SLOT_RUNS[$slot]=""
    SLOT_NON2XX[$slot]=0
    SLOT_ERRS[$slot]=0
    SERVER_PID=
    slot_wrk "$slot" "$path" 2 >/dev/null # warm-up
    [[ $scenario != s8* && $scenario != s9 ]] || count_sql "$slot"
}

# wrk on a slot's server for SECONDS: its output.
slot_wrk() { # slot path seconds
    local slot=$1 wrk_args=(-t1 -c"$CONNS" --timeout 5s) token=$TOKEN body=$ME_BODY
    [[ -n ${SLOT_SCRIPT[$slot]} ]] && wrk_args+=(-s "${SLOT_SCRIPT[$slot]}")
    [[ $slot != *-s6 ]] || token=$OWNER_TOKEN
    if [[ $slot == *-s9 ]]; then # a page of stores with their owners: an administrator asks
        token=$ADMIN_TOKEN
        body=$STORES_BODY
    fi
    # BENCH_KEY_PREFIX: S6's Idempotency-Keys stay unique across runs and servers
    BENCH_ID_LO=$ID_LO BENCH_ID_HI=$ID_HI BENCH_TOKEN=$token BENCH_GQL_BODY=$body \
        BENCH_KEY_PREFIX=$slot-$$-$RANDOM$RANDOM taskset -c 1 wrk "${wrk_args[@]}" \
        -d"$3s" --latency "http://127.0.0.1:${SLOT_PORT[$slot]}$2"
}

# One measured run on a slot: "µs/req req/s p99" appended to its runs.
slot_run() { # slot path round
    local slot=$1 out t0 t1 reqs rps p99 us n e pid=${SLOT_PID[$1]}
    t0=$(cpu_ticks "$pid")
    out=$(slot_wrk "$slot" "$2" "$DURATION")
    t1=$(cpu_ticks "$pid")
    echo "$out" >"$TMP/wrk-$slot-$3.out"
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    rps=$(awk '/Requests\/sec:/ {printf "%d", $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    n=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    e=$(sed -nE 's/.*Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+).*/\1+\2+\3+\4/p' <<<"$out")
    SLOT_NON2XX[$slot]=$((SLOT_NON2XX[$slot] + ${n:-0}))
    SLOT_ERRS[$slot]=$((SLOT_ERRS[$slot] + ${e:-0}))
    us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${reqs:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", d * 1e6 / hz / n; else print "-" }')
    SLOT_RUNS[$slot]+="$us ${rps:-0} ${p99:--}"$'\n'
}

# Stops a slot's server and appends its row: the median run by CPU per request speaks for it,
# the range shows the noise.
slot_down() { # slot
    local slot=$1 scenario=${1#*-} stack=${1%%-*} rss_after rss_col median spread us rps p99
    SERVER_PID=${SLOT_PID[$slot]}
    rss_after=$(rss_kb)
    stop_server
    unset "SLOT_PID[$slot]"
    median=$(printf '%s' "${SLOT_RUNS[$slot]}" | sort -n | awk -v m=$(((REPEAT + 1) / 2)) 'NR == m')
    spread=$(printf '%s' "${SLOT_RUNS[$slot]}" | sort -n | awk 'NR == 1 {lo = $1} {hi = $1}
        END { if (NR > 1) printf " (%s–%s)", lo, hi }')
    read -r us rps p99 <<<"$median"
    rss_col=$(awk -v a="${SLOT_RSS[$slot]}" -v w="${SLOT_WORKER[$slot]}" \
        'BEGIN { printf "%.1f", a / 1024; if (w != "") printf " (worker %.1f)", w / 1024 }')
    ROWS+=("$scenario|$stack|$rps|$p99|$us$spread|$rss_col|$(awk -v a="$rss_after" 'BEGIN{printf "%.1f", a/1024}')|${SLOT_NON2XX[$slot]}|${SLOT_ERRS[$slot]}")
    say "$scenario $stack: $rps req/s, p99 $p99, $us$spread µs/req"
}

# Runs one stack on one scenario and appends a result row.
measure() { # stack scenario path [wrk script]
    local i
    slot_up "$@" || return 0
    for ((i = 1; i <= REPEAT; i++)); do
        slot_run "$1-$2" "$3" "$i"
    done
    slot_down "$1-$2"
}

# Several slots up together, their runs alternating (A, B, C, A, B, C...) so that the
# machine's phases weigh on all alike: S1 and S2 of one stack (the S2 target compares them),
# S8's GraphQL, REST and Mercurius servers. The servers stay up, pinned to the same CPU; only
# the one wrk drives uses it.
measure_together() { # "stack scenario path [wrk script]"...
    local spec stack scenario path script slots=() slot i
    for spec in "$@"; do
        read -r stack scenario path script <<<"$spec"
        slot_up "$stack" "$scenario" "$path" "$script" && slots+=("$stack-$scenario")
    done
    ((${#slots[@]})) || return 0
    for ((i = 1; i <= REPEAT; i++)); do
        for slot in "${slots[@]}"; do
            slot_run "$slot" "${SLOT_PATH[$slot]}" "$i"
        done
    done
    for slot in "${slots[@]}"; do
        slot_down "$slot"
    done
}

# The stack name the rows give the Node stack in a scenario: Mercurius serves S8 and S9.
node_stack() { # scenario
    case $1 in
    s8* | s9) echo mercurius ;;
    *) echo fastify ;;
    esac
}

path_of() {
    case $1 in
    s1) echo /hello ;;
    s2) echo /claims ;;
    s3) echo /redis ;;
    s4) echo /users/1 ;;
    s5) echo /user/me ;;
    s6) echo /store ;;
    s7) echo "/store/$STORE_ID" ;;
    s7-plain) echo "/bench/store/$STORE_ID" ;;
    s8 | s9) echo /graphql ;;
    s8-rest) echo /user/me ;;
    esac
}

install_node "$BENCH"
if [[ $HTTP_SCENARIOS =~ s[3-9] ]]; then
    prepare_data
fi
if [[ $HTTP_SCENARIOS =~ s[258] ]]; then
    bench_token || say "S2, S5 and S8 will fail"
fi
INTERLEAVED=0
[[ " $HTTP_SCENARIOS " == *" s1 "* && " $HTTP_SCENARIOS " == *" s2 "* ]] && INTERLEAVED=1
for scenario in $HTTP_SCENARIOS; do
    if [[ $scenario != s1 && $scenario != s2 ]] && ((DATA_READY == 0)); then
        continue
    fi
    if ((INTERLEAVED)) && [[ $scenario == s1 || $scenario == s2 ]]; then
        [[ $scenario == s1 ]] || continue
        for stack in $STACKS; do
            measure_together "$stack s1 /hello" "$stack s2 /claims $BENCH/wrk/bearer.lua"
        done
        continue
    fi
    if [[ $scenario == s8 ]]; then # GraphQL `{ me }`, REST /user/me and Mercurius, alternating
        together=()
        for stack in $STACKS; do
            if [[ $stack == speezy ]]; then
                together+=("speezy s8 /graphql $BENCH/wrk/graphql.lua"
                    "speezy s8-rest /user/me $BENCH/wrk/bearer.lua")
            else
                together+=("$(node_stack s8) s8 /graphql $BENCH/wrk/graphql.lua")
            fi
        done
        measure_together "${together[@]}"
        continue
    fi
    script=""
    case $scenario in
    s4) script=$BENCH/wrk/random_user.lua ;;
    s2 | s5) script=$BENCH/wrk/bearer.lua ;;
    s6) script=$BENCH/wrk/store_post.lua ;;
    s9) script=$BENCH/wrk/graphql.lua ;;
    esac
    for stack in $STACKS; do
        [[ $stack == speezy ]] || stack=$(node_stack "$scenario")
        measure "$stack" "$scenario" "$(path_of "$scenario")" "$script"
        # the same read without route options: speezy's twin route (there is no Fastify twin)
        if [[ $scenario == s7 && $stack == speezy ]]; then
            measure speezy s7-plain "$(path_of s7-plain)" ""
        fi
    done
done

# --- results ------------------------------------------------------------------------------
echo
echo "speezy bench: wrk -t1 -c$CONNS -d${DURATION}s x$REPEAT (median) on CPU 1, server on CPU 0 (speezy WORKERS=1, LOG_LEVEL=$LOG_LEVEL); $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d" " -f1-3 /proc/loadavg)"
echo
echo "| scenario | stack | req/s | p99 | CPU µs/req | RSS idle MB | RSS after MB | non-2xx | socket errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
    echo "| ${row//|/ | } |"
done
echo
# The Node stack ÷ speezy per scenario: how many times more CPU per request, how many fewer req/s.
for scenario in $HTTP_SCENARIOS; do
    node=$(node_stack "$scenario")
    s=$(printf '%s\n' "${ROWS[@]}" | awk -F'|' -v sc="$scenario" '$1 == sc && $2 == "speezy" {print $3, $5}')
    f=$(printf '%s\n' "${ROWS[@]}" |
        awk -F'|' -v sc="$scenario" -v st="$node" '$1 == sc && $2 == st {print $3, $5}')
    [[ -n $s && -n $f ]] || continue
    awk -v sc="$scenario" -v s="$s" -v f="$f" -v st="${node^}" 'BEGIN {
        split(s, a, " "); split(f, b, " ")
        if (a[1] + 0 > 0 && a[2] + 0 > 0 && b[1] + 0 > 0 && b[2] + 0 > 0)
            printf "%s: speezy uses %.2fx less CPU per request than %s, serves %.2fx its req/s\n",
                toupper(sc), b[2] / a[2], st, a[1] / b[1]
    }'
done
# S8 and S9: the SQL statements one request cost (count_sql), and which.
for slot in speezy-s8 speezy-s8-rest mercurius-s8 speezy-s9 mercurius-s9; do
    [[ -n ${SLOT_SQL[$slot]:-} ]] || continue
    echo "${slot#*-} ${slot%%-*}: SQL statements per request ${SLOT_SQL[$slot]}:"
    awk '{ print "    " $0 }' <<<"${SLOT_SQL_TOP[$slot]}"
done

# The issues' targets that compare figures of this run (#15: S2 and S5).
cpu_of() { # scenario stack -> the row's CPU µs/req (its median run)
    printf '%s\n' "${ROWS[@]}" | awk -F'|' -v sc="$1" -v st="$2" \
        '$1 == sc && $2 == st { split($5, a, " "); print a[1] }'
}
target() { # label numerator denominator what [limit]
    [[ -n $2 && -n $3 ]] || return 0
    awk -v l="$1" -v n="$2" -v d="$3" -v w="$4" -v m="${5:-}" 'BEGIN {
        if (n + 0 <= 0 || d + 0 <= 0) exit
        printf "%s: %.2fx %s", l, n / d, w
        if (m != "") printf " (target <= %.2fx: %s)", m, n / d <= m ? "met" : "MISSED"
        printf "\n"
    }'
}
# Each round of an alternation: the CPU per request of one slot's run over that of another
# slot's run of the same round (S2 over the S1 before it, S8 over the REST run after it).
round_ratios() { # numerator-slot denominator-slot label how
    [[ -n ${SLOT_RUNS[$1]:-} && -n ${SLOT_RUNS[$2]:-} ]] || return 0
    local ratios
    ratios=$(paste -d' ' <(printf '%s' "${SLOT_RUNS[$2]}" | awk '{print $1}') \
        <(printf '%s' "${SLOT_RUNS[$1]}" | awk '{print $1}') |
        awk '$1 + 0 > 0 && $2 + 0 > 0 { printf "%.2f\n", $2 / $1 }')
    [[ -n $ratios ]] || return 0
    echo "$3 per round ($4): $(xargs <<<"$ratios"); median $(sort -n <<<"$ratios" |
        awk '{ r[NR] = $1 } END { printf "%.2f", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')x"
}
target S2 "$(cpu_of s2 speezy)" "$(cpu_of s1 speezy)" "speezy's S1 CPU per request" 1.25
target "S2 (Fastify)" "$(cpu_of s2 fastify)" "$(cpu_of s1 fastify)" "Fastify's S1 CPU per request"
round_ratios speezy-s2 speezy-s1 S2 "S2 / the S1 before it"
round_ratios fastify-s2 fastify-s1 "S2 (Fastify)" "S2 / the S1 before it"
target S5 "$(cpu_of s5 speezy)" "$(cpu_of s5 fastify)" "Fastify's CPU per request" 0.25
# #16: S6 against Fastify; S7 reports the options' cost (schema, auth) over the twin without
target S6 "$(cpu_of s6 speezy)" "$(cpu_of s6 fastify)" "Fastify's CPU per request" 0.35
target "S7 (options)" "$(cpu_of s7 speezy)" "$(cpu_of s7-plain speezy)" \
    "the CPU per request of the twin route without options"
# #17: `{ me }` against the same work over REST, and against Mercurius
target S8 "$(cpu_of s8 speezy)" "$(cpu_of s8-rest speezy)" \
    "the CPU per request of speezy's REST GET /user/me" 1.3
round_ratios speezy-s8 speezy-s8-rest S8 "GraphQL / the REST run after it"
target "S8 (Mercurius)" "$(cpu_of s8 speezy)" "$(cpu_of s8 mercurius)" \
    "Mercurius's CPU per request" 0.35
target "S9 (Mercurius)" "$(cpu_of s9 speezy)" "$(cpu_of s9 mercurius)" \
    "Mercurius's CPU per request"

((${#FAILED[@]} == 0)) || say "FAILED, not measured: ${FAILED[*]} (why is said above)"

# The HTTP servers and their PostgreSQL + Redis are gone before the queue's run starts.
if [[ $SCENARIOS == *queue* ]]; then
    cleanup
    trap - EXIT
    ((${#FAILED[@]})) || exec "$BENCH/queue.sh"
    "$BENCH/queue.sh" || true
fi
((${#FAILED[@]} == 0))

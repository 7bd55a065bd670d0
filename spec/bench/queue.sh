#!/usr/bin/env bash
# spec/bench/queue.sh — the job queue against BullMQ 5 on one Redis, in one run (issue #14);
# `make bench` runs it after the HTTP scenarios (spec/bench/run.sh).
#
# Steps, each on an emptied Redis (FLUSHALL), every phase bounded in time:
#   backlog  N jobs added while nobody consumes (CLIENTS adders at once, each awaiting its add
#            before the next): row "add"; then one consumer with concurrency 50 and a no-op
#            handler runs them: row "process"
#   mixed    N jobs added while that consumer runs, until all ran: row "add+process"
#   latency  LATENCY_JOBS lone jobs, GAP_MS apart: from queue.add to the handler's start
#   scripts  (not by default) Redis' CPU per job of speezy's queue scripts alone, run from
#            host/queue/*.lua without the host: spec/bench/queue_scripts.js
# speezy: `speezy serve` with WORKERS=1 and spec/bench/scripts/queue; one request (POST
# /enqueue?n=JOBS&clients=CLIENTS) adds the jobs from CLIENTS threads (core.spawn), each awaiting
# its add before the next, as bench.js' CLIENTS loops do in node: the queue is measured, not an
# HTTP driver sharing Redis' CPU (until session 11 curl sent CLIENTS requests of 100 adds each,
# which cost speezy ~25% of its adding rate). In the backlog step the adder has QUEUE_CONSUME=0
# and pauses the queue; the consumer is a second server, started once the jobs wait and
# measured from the resume, so neither start-up is counted. BullMQ: node
# spec/bench/bullmq/bench.js, one Queue and one Worker in one process, measured from its "go".
# The measured process runs on CPU 0; Redis (fresh, spec/tools/servers.sh's: an append-only file
# with fsync every second, as production runs it) and curl on CPU 1 (BENCH_QUEUE_PIN=0: anywhere).
#
# Per job, as differences over the phase divided by its jobs: the process' CPU (utime+stime of
# the speezy master and worker, or of node, from /proc), Redis' CPU (INFO cpu: used_cpu_sys +
# used_cpu_user), Redis commands and script calls (INFO commandstats, INFO itself left out).
# Jobs/s: the jobs over the seconds each stack measures itself (speezy's bench app, bench.js),
# from the start of the work to the last job added, or until nothing waits or runs (looked at
# every 20 ms from inside, on both sides: a look from the shell would start processes on
# Redis' CPU, which stalled Redis for 1-7 ms at a time, a quarter of speezy's processing time).
# Errors: jobs not added, failed, or still waiting when time ran out.
# Each target is judged on the median of the per-run ratios (speezy's jobs/s, or CPU per job,
# over BullMQ's in the same run, measured seconds apart): this VM's speed drifts between runs by
# up to 1.5x for both stacks alike, which a ratio of two medians would take for a difference.
#
# Settings: BENCH_QUEUE_JOBS (100000), BENCH_QUEUE_CLIENTS (64), BENCH_QUEUE_REPEAT (3; a row
# is the median run by jobs/s, the runs' ranges beside), BENCH_QUEUE_STEPS ("backlog mixed latency"), BENCH_QUEUE_STACKS ("speezy bullmq"),
# BENCH_QUEUE_LATENCY_JOBS (1000), BENCH_QUEUE_GAP_MS (5), BENCH_QUEUE_TIMEOUT (120 s per
# phase), BENCH_QUEUE_PIN (1), BENCH_LOG_LEVEL (warn: no line per job, as BullMQ logs
# nothing), SPEEZY_BIN.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH=$ROOT/spec/bench
# shellcheck source=spec/bench/lib.sh
. "$BENCH/lib.sh"
BIN=${SPEEZY_BIN:-$ROOT/build/speezy}
JOBS=${BENCH_QUEUE_JOBS:-100000}
CLIENTS=${BENCH_QUEUE_CLIENTS:-64}
REPEAT=${BENCH_QUEUE_REPEAT:-3}
STEPS=${BENCH_QUEUE_STEPS:-backlog mixed latency}
STACKS=${BENCH_QUEUE_STACKS:-speezy bullmq}
LAT_JOBS=${BENCH_QUEUE_LATENCY_JOBS:-1000}
GAP_MS=${BENCH_QUEUE_GAP_MS:-5}
TIMEOUT=${BENCH_QUEUE_TIMEOUT:-120}
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
NODE_DIR=$BENCH/node/bullmq
# What runs the measured process (speezy or node), and Redis' neighbours (the HTTP driver).
ON_APP=()
ON_SIDE=()
if [[ ${BENCH_QUEUE_PIN:-1} == 1 ]]; then
    ON_APP=(taskset -c 0)
    ON_SIDE=(taskset -c 1)
fi

TMP=$(mktemp -d /tmp/speezy-qbench.XXXXXX)
chmod 755 "$TMP"
SERVERS=$TMP/servers
SPEEZY_PIDS=()
NODE_PID=

cleanup() {
    local pid
    for pid in "${SPEEZY_PIDS[@]}"; do stop_speezy "$pid"; done
    [[ -z $NODE_PID ]] || kill -KILL "$NODE_PID" 2>/dev/null || true
    spec/tools/servers.sh destroy "$SERVERS" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in taskset curl redis-cli python3; do
    command -v "$tool" >/dev/null || {
        say "$tool is missing (make deps installs it)"
        exit 1
    }
done
[[ -x $BIN ]] || {
    say "$BIN is missing: run make build"
    exit 1
}

# --- BullMQ, installed once per lock file into spec/bench/node/bullmq (ignored) ------------
install_bullmq() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        say "node and npm are needed for BullMQ (make deps installs them)"
        exit 1
    fi
    mkdir -p "$NODE_DIR"
    cp "$BENCH/bullmq/bench.js" "$NODE_DIR/bench.js"
    if ! cmp -s "$BENCH/bullmq/package-lock.json" "$NODE_DIR/.installed-lock.json"; then
        say "installing BullMQ into spec/bench/node/bullmq (npm ci)"
        cp "$BENCH/bullmq/package.json" "$BENCH/bullmq/package-lock.json" "$NODE_DIR/"
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
        cp "$BENCH/bullmq/package-lock.json" "$NODE_DIR/.installed-lock.json"
    fi
}

# --- Redis ----------------------------------------------------------------------------------
start_redis() {
    say "starting Redis"
    if ! spec/tools/servers.sh start-redis "$SERVERS" >"$TMP/servers.log" 2>&1; then
        say "servers.sh failed:"
        tail -n 20 "$TMP/servers.log" >&2
        exit 1
    fi
    # The URL carries the server's password (spec/tools/servers.sh); it stays in this run.
    REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$SERVERS/env")
    if ((${#ON_SIDE[@]})); then
        taskset -apc 1 "$(cat "$SERVERS/redis/redis.pid")" >/dev/null
    fi
}

rcli() { redis-cli --no-auth-warning -u "$REDIS_URL" "$@"; }

# "cpu_seconds calls script_calls": Redis' CPU so far, the commands it ran (INFO left out)
# and how many of them were scripts.
redis_stats() {
    rcli INFO all | tr -d '\r' | awk -F'[:,=]' '
        $1 == "used_cpu_sys" || $1 == "used_cpu_user" { cpu += $2 }
        $1 ~ /^cmdstat_/ && $1 != "cmdstat_info" {
            calls += $3
            if ($1 ~ /^cmdstat_(evalsha|eval|evalsha_ro|eval_ro|fcall|fcall_ro)$/) scripts += $3
        }
        END { printf "%.6f %d %d\n", cpu, calls, scripts }'
}

# --- one phase's figures --------------------------------------------------------------------
ROWS=$TMP/rows # phase stack run jobs seconds ticks redis_cpu calls scripts errors
LAT_ROWS=$TMP/latency # stack run jobs p50 p99 max mean

begin_phase() { # pid
    R0=$(redis_stats)
    P0=$(tree_ticks "$1")
    T0=$(date +%s%N)
}

end_phase() { # pid phase stack run jobs errors [seconds]
    local t1 p1 r1 secs c0 n0 s0 c1 n1 s1
    t1=$(date +%s%N)
    p1=$(tree_ticks "$1")
    r1=$(redis_stats)
    secs=${7:-$(awk -v a="$T0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')}
    read -r c0 n0 s0 <<<"$R0"
    read -r c1 n1 s1 <<<"$r1"
    echo "$2 $3 $4 $5 $secs $((p1 - P0)) $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.6f", b - a }') \
$((n1 - n0)) $((s1 - s0)) $6" >>"$ROWS"
    say "$2 $3 run $4: $5 jobs in ${secs}s, $(awk -v n="$5" -v s="$secs" 'BEGIN { printf "%d", n / s }') jobs/s"
}

kv() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

# --- speezy ---------------------------------------------------------------------------------
SPID=
SPORT=
start_speezy() { # name queue_consume
    local port
    port=$(free_port)
    (cd "$TMP" && exec env -u DATABASE_URL SPEEZY_ENV=test WORKERS=1 HOST=127.0.0.1 PORT="$port" \
        LOG_LEVEL="$LOG_LEVEL" REDIS_URL="$REDIS_URL" QUEUE_CONSUME="$2" \
        REQUEST_TIMEOUT_MS=$((TIMEOUT * 1000)) SCRIPTS_DIR="$BENCH/scripts/queue" \
        PID_FILE="$TMP/$1.pid" "${ON_APP[@]}" "$BIN" serve) >>"$TMP/speezy-$1.log" 2>&1 &
    SPID=$!
    SPORT=$port
    SPEEZY_PIDS+=("$SPID")
    for _ in $(seq 100); do
        [[ -d /proc/$SPID ]] || break
        curl -sf -m 1 -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
        sleep 0.1
    done
    say "speezy ($1) did not start; its log:"
    tail -n 20 "$TMP/speezy-$1.log" >&2
    exit 1
}

stop_speezy() { # pid
    local pids p keep=()
    for p in "${SPEEZY_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    SPEEZY_PIDS=("${keep[@]}")
    [[ -d /proc/$1 ]] || return 0
    pids=$(tree_pids "$1")
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        [[ -d /proc/$1 ]] || break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# POST to speezy's bench app (spec/bench/scripts/queue/app.lua), which does the work and times
# it; prints its answer ("seconds=.. not_added=.. pending=.. failed=..", see there).
speezy_call() { # port path
    "${ON_SIDE[@]}" curl -s -m "$TIMEOUT" -X POST "http://127.0.0.1:$1$2" || true
}

# The sum of an answer's figures under these keys: jobs not added, still waiting or failed
# (JOBS when one is missing: the server did not answer).
speezy_errors() { # answer key...
    local k v sum=0
    for k in "${@:2}"; do
        v=$(kv "$1" "$k")
        [[ $v =~ ^[0-9]+$ ]] || {
            echo "$JOBS"
            return
        }
        sum=$((sum + v))
    done
    echo "$sum"
}

speezy_backlog() { # run
    local adder consumer out n
    rcli FLUSHALL >/dev/null
    start_speezy adder 0
    adder=$SPID
    # Paused, the jobs wait for the consumer to be up and measured. (While paused with jobs
    # waiting, the consumer loops reserve + BZPOPMIN without pause: before the measure.)
    curl -sf -m 5 -X POST -o /dev/null "http://127.0.0.1:$SPORT/pause"
    begin_phase "$adder"
    out=$(speezy_call "$SPORT" "/enqueue?n=$JOBS&clients=$CLIENTS")
    end_phase "$adder" add speezy "$1" "$JOBS" "$(speezy_errors "$out" not_added)" \
        "$(kv "$out" seconds)"
    n=$(curl -s -m 5 "http://127.0.0.1:$SPORT/pending" || true)
    n=${n%% *}
    if [[ $n != "$JOBS" ]]; then
        say "speezy add: $n jobs wait, not $JOBS"
        [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || n=$JOBS
    fi
    stop_speezy "$adder"
    start_speezy consumer 1
    consumer=$SPID
    sleep 0.3
    begin_phase "$consumer"
    out=$(speezy_call "$SPORT" "/resume?drain=1")
    end_phase "$consumer" process speezy "$1" "$n" "$(speezy_errors "$out" pending failed)" \
        "$(kv "$out" seconds)"
    stop_speezy "$consumer"
}

speezy_mixed() { # run
    local out
    rcli FLUSHALL >/dev/null
    start_speezy consumer 1
    sleep 0.3
    begin_phase "$SPID"
    out=$(speezy_call "$SPORT" "/enqueue?n=$JOBS&clients=$CLIENTS&drain=1")
    end_phase "$SPID" add+process speezy "$1" "$JOBS" \
        "$(speezy_errors "$out" not_added pending failed)" "$(kv "$out" seconds)"
    stop_speezy "$SPID"
}

speezy_latency() { # run
    local out
    rcli FLUSHALL >/dev/null
    start_speezy consumer 1
    sleep 0.3
    out=$(speezy_call "$SPORT" "/latency?n=$LAT_JOBS&gap=$GAP_MS")
    stop_speezy "$SPID"
    record_latency speezy "$1" "$out"
}

record_latency() { # stack run line
    local jobs
    jobs=$(kv "$3" jobs)
    if [[ -z $jobs ]]; then
        say "latency $1: no answer ($3)"
        return
    fi
    echo "$1 $2 $jobs $(kv "$3" p50_us) $(kv "$3" p99_us) $(kv "$3" max_us) $(kv "$3" mean_us)" >>"$LAT_ROWS"
    say "latency $1 run $2: $3"
}

# --- BullMQ ---------------------------------------------------------------------------------
# Runs one phase of bench.js: waits for "ready", measures from "go" to its result line.
NODE_OUT=
node_phase() { # phase args...
    local dir=$TMP/node-$1 line=
    rm -rf "$dir"
    mkdir "$dir"
    mkfifo "$dir/in" "$dir/out"
    (cd "$NODE_DIR" && BENCH_QUEUE_TIMEOUT=$TIMEOUT exec "${ON_APP[@]}" node bench.js "$REDIS_URL" "$@" \
        <"$dir/in" >"$dir/out" 2>>"$TMP/bullmq.log") &
    NODE_PID=$!
    exec 7>"$dir/in" 8<"$dir/out"
    NODE_OUT=
    if read -r -t 60 line <&8 && [[ $line == ready ]]; then
        begin_phase "$NODE_PID"
        echo go >&7
        read -r -t "$((TIMEOUT + 10))" NODE_OUT <&8 || NODE_OUT=
    else
        say "bench.js $1 did not start:"
        tail -n 20 "$TMP/bullmq.log" >&2
    fi
}

node_done() {
    exec 7>&- 8<&-
    for _ in $(seq 100); do
        [[ -d /proc/$NODE_PID ]] || break
        sleep 0.1
    done
    kill -KILL "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
    NODE_PID=
}

# Jobs that failed, or 1 when some were still waiting at the phase's time limit.
node_errors() {
    echo $(($(kv "$NODE_OUT" failed) + 1 - $(kv "$NODE_OUT" drained)))
}

bullmq_backlog() { # run
    rcli FLUSHALL >/dev/null
    node_phase add "$JOBS" "$CLIENTS"
    [[ -z $NODE_OUT ]] || end_phase "$NODE_PID" add bullmq "$1" "$JOBS" 0 "$(kv "$NODE_OUT" seconds)"
    node_done
    node_phase process "$JOBS"
    [[ -z $NODE_OUT ]] || end_phase "$NODE_PID" process bullmq "$1" "$JOBS" \
        "$(node_errors)" "$(kv "$NODE_OUT" seconds)"
    node_done
}

bullmq_mixed() { # run
    rcli FLUSHALL >/dev/null
    node_phase mixed "$JOBS" "$CLIENTS"
    [[ -z $NODE_OUT ]] || end_phase "$NODE_PID" add+process bullmq "$1" "$JOBS" \
        "$(node_errors)" "$(kv "$NODE_OUT" seconds)"
    node_done
}

bullmq_latency() { # run
    rcli FLUSHALL >/dev/null
    node_phase latency "$LAT_JOBS" "$GAP_MS"
    node_done
    record_latency bullmq "$1" "$NODE_OUT"
}

# --- speezy's scripts alone ------------------------------------------------------------------
SCRIPT_LINES=$TMP/scripts
scripts_step() { # run
    rcli FLUSHALL >/dev/null
    (cd "$NODE_DIR" && "${ON_APP[@]}" node "$BENCH/queue_scripts.js" "$REDIS_URL" "$JOBS") |
        sed "s/^/run $1: /" | tee -a "$SCRIPT_LINES" >&2
}

# --- the run --------------------------------------------------------------------------------
[[ $STACKS != *bullmq* && $STEPS != *scripts* ]] || install_bullmq
start_redis
: >"$ROWS"
: >"$LAT_ROWS"
: >"$SCRIPT_LINES"
LOAD_BEFORE=$(cut -d" " -f1-3 /proc/loadavg)
for ((run = 1; run <= REPEAT; run++)); do
    for step in $STEPS; do
        if [[ $step == scripts ]]; then
            scripts_step "$run"
            continue
        fi
        for stack in $STACKS; do
            "${stack}_$step" "$run"
        done
    done
done

# --- results --------------------------------------------------------------------------------
echo
PINNING="speezy WORKERS=1 or node on CPU 0, Redis and the driver on CPU 1"
((${#ON_APP[@]})) || PINNING="speezy WORKERS=1 or node, unpinned"
echo "queue bench: $JOBS jobs, $CLIENTS adders at once (speezy: threads of one request), x$REPEAT (median by jobs/s; runs' range), no-op handler, concurrency 50; $PINNING; Redis $(rcli INFO server | tr -d '\r' | sed -n 's/^redis_version://p'); $(date -u +%Y-%m-%dT%H:%MZ), load average $LOAD_BEFORE before"
if [[ -s $ROWS ]]; then
    echo
    echo "| phase | stack | jobs/s | process CPU µs/job | Redis CPU µs/job | Redis cmds/job | scripts/job | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
fi
for phase in add process add+process; do
    for stack in $STACKS; do
        awk -v ph="$phase" -v st="$stack" -v hz="$CLK_TCK" '
            $1 == ph && $2 == st {
                n++
                rate[n] = $4 / $5; app[n] = $6 * 1e6 / hz / $4; red[n] = $7 * 1e6 / $4
                cmds[n] = $8 / $4; scr[n] = $9 / $4; err += $10
            }
            function range(a, fmt,   i, lo, hi) {
                lo = hi = a[1]
                for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
                return n > 1 ? sprintf(" (" fmt "–" fmt ")", lo, hi) : ""
            }
            END {
                if (!n) exit
                # the median run by jobs/s
                for (i = 1; i <= n; i++) idx[i] = i
                for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
                    if (rate[idx[j]] < rate[idx[i]]) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
                m = idx[int((n + 1) / 2)]
                printf "| %s | %s | %d%s | %.1f%s | %.1f%s | %.1f | %.2f | %d |\n",
                    ph, st, rate[m], range(rate, "%d"), app[m], range(app, "%.1f"),
                    red[m], range(red, "%.1f"), cmds[m], scr[m], err
            }' "$ROWS"
    done
done
if [[ -s $SCRIPT_LINES ]]; then
    echo
    echo "speezy's scripts alone (spec/bench/queue_scripts.js):"
    sed 's/^/    /' "$SCRIPT_LINES"
fi
if [[ -s $LAT_ROWS ]]; then
    echo
    echo "| lone job, queue.add -> handler | stack | jobs | p50 µs | p99 µs | max µs | mean µs |"
    echo "|---|---|---:|---:|---:|---:|---:|"
    for stack in $STACKS; do
        # the median run by p99
        sort -k5,5n "$LAT_ROWS" | awk -v st="$stack" '$1 == st { r[++n] = $0 } END {
            if (!n) exit
            split(r[int((n + 1) / 2)], f, " ")
            printf "| %d runs | %s | %d | %d | %d | %d | %d |\n", n, st, f[3], f[4], f[5], f[6], f[7]
        }'
    done
fi
echo
# Per phase and run, speezy's figures over BullMQ's in the same run (jobs/s, process CPU per job,
# Redis CPU per job), and the median of each ("phase jobs/s cpu redis | r1 r2 ..", the runs'
# jobs/s ratios): a slow stretch of the VM raises both stacks' CPU per job alike.
RATIOS=$TMP/ratios
awk -v hz="$CLK_TCK" '
    $2 == "speezy" || $2 == "bullmq" {
        k = $1 SUBSEP $2 SUBSEP $3
        rate[k] = $4 / $5; app[k] = $6 / hz / $4; red[k] = $7 / $4
        if ($3 > last) last = $3
    }
    function median(v, n,   a, b, t) {
        for (a = 1; a <= n; a++) for (b = a + 1; b <= n; b++)
            if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    END {
        split("add process add+process", phases, " ")
        for (i = 1; i <= 3; i++) {
            p = phases[i]; n = 0; line = ""
            for (r = 1; r <= last; r++) {
                s = p SUBSEP "speezy" SUBSEP r; b = p SUBSEP "bullmq" SUBSEP r
                if (!(s in rate) || !(b in rate)) continue
                n++
                vr[n] = rate[s] / rate[b]; va[n] = app[s] / app[b]; vd[n] = red[s] / red[b]
                line = line sprintf(" %.2f", vr[n])
            }
            if (n) printf "%s %f %f %f%s\n", p, median(vr, n), median(va, n), median(vd, n), line
        }
    }' "$ROWS" >"$RATIOS"
# Against issue #14's targets: >= 3x BullMQ's jobs/s, <= 1/3 of its process and Redis CPU per
# job, p99 from add to start <= 2 ms.
awk '
    function verdict(ok) { return ok ? "met" : "MISSED" }
    {
        runs = $5
        for (i = 6; i <= NF; i++) runs = runs " " $i
        printf "%s: speezy %.2fx BullMQ'"'"'s jobs/s (median of the runs: %s; target >= 3x: %s), %.2fx its process CPU per job (<= 0.33x: %s), %.2fx its Redis CPU per job (<= 0.33x: %s); each the median of the per-run ratios\n",
            $1, $2, runs, verdict($2 >= 3), $3, verdict($3 <= 1 / 3), $4, verdict($4 <= 1 / 3)
    }' "$RATIOS"
if [[ -s $LAT_ROWS ]]; then
    sort -k5,5n "$LAT_ROWS" | awk '$1 == "speezy" { r[++n] = $5 } END {
        if (n) printf "lone job p99 (median run): speezy %.2f ms (target <= 2 ms: %s)\n",
            r[int((n + 1) / 2)] / 1000, r[int((n + 1) / 2)] <= 2000 ? "met" : "MISSED" }'
fi

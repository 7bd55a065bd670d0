#!/usr/bin/env bash
# servers.sh — a project-local PostgreSQL 15 and Redis 7 under one folder, on loopback ports
# that clash with no system service. Used by `make run` (DIR=.run) and the test harness (a
# mktemp -d per run), so neither ever touches the system's 5432/6379 or a developer's data.
#
#   servers.sh start DIR          start both (initdb on first use), create database `speezy`,
#                                 wait until both accept connections, write DIR/env
#   servers.sh stop DIR           stop both (fine when not running)
#   servers.sh start-pg|stop-pg|restart-pg DIR
#   servers.sh start-redis|stop-redis|restart-redis DIR
#   servers.sh freeze-pg|thaw-pg|freeze-redis|thaw-redis DIR
#                                 SIGSTOP / SIGCONT every process of the server: it keeps its
#                                 connections but answers nothing (a hung server, for tests)
#   servers.sh destroy DIR        stop, then rm -rf DIR
#
# DIR/env (mode 600) holds DATABASE_URL, REDIS_URL, PG_PORT, REDIS_PORT, PGDATA and PG_BIN.
# Ports are chosen once per DIR (kept in DIR/ports) so restarts reuse them: DIR=.run prefers
# 54329/63799 when free; any other DIR gets random free ports (SERVERS_PG_PORT and
# SERVERS_REDIS_PORT force them). Already running servers are reused, so start is idempotent.
#
# Every DIR has its own random passwords, made once and kept in DIR/passwords (mode 600, hex
# so the URLs need no escaping): PostgreSQL's `postgres` user needs it over TCP
# (scram-sha-256) and Redis has `requirepass`. So a server only ever reaches its own folder's
# servers: when another folder's (another checkout's) take over the same port while ours are
# stopped, they refuse our URLs instead of serving the wrong data. A DIR made before passwords
# existed is upgraded in place by the next start (see pg_secure, redis_upgrade_running); no data
# is lost.
#
# Two modes (SERVERS_MODE=dev|test; default dev for a folder named .run, test otherwise):
# test turns off PostgreSQL's fsync and Redis' RDB snapshots for speed; dev keeps PostgreSQL
# crash-safe and Redis snapshotting to DIR/redis/dump.rdb. In both, Redis keeps the job queue
# the way production must: an append-only file (appendonly yes, fsync every second, under
# DIR/redis/appendonlydir) that a restart reads back, and maxmemory-policy noeviction, so a
# full Redis refuses writes instead of dropping queued jobs. A DIR from before the AOF is
# converted with its data (see redis_aof_on). Both listen on 127.0.0.1 only: they are
# development servers, never production ones.
#
# PostgreSQL refuses to run as root, so as root its processes run as the `postgres` system
# user on a data dir it owns. When that user cannot reach DIR (a parent such as /root is
# mode 700) the data lives in /var/tmp/speezy-pg.* instead, linked from DIR/pg.
set -euo pipefail

PG_DB=speezy
WAIT_SECONDS=60

die() {
    echo "servers.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '6,15p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# --- locating things ---------------------------------------------------------------------

find_pg_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        [[ -x "$PG_BIN/initdb" ]] || die "PG_BIN=$PG_BIN has no initdb"
        return
    fi
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            PG_BIN=$d
            return
        fi
    done
    die "PostgreSQL server binaries not found (apt-get install postgresql; or set PG_BIN)"
}

# Runs a PostgreSQL server command as its owner: `postgres` when we are root, ourselves
# otherwise. cd first so the postgres user is never left in an unreadable directory.
as_pg() {
    if ((EUID == 0)); then
        (cd "$PG_ROOT" && runuser -u postgres -- "$@" 9>&-)
    else
        (cd "$PG_ROOT" && "$@" 9>&-)
    fi
}

pg_user_can_reach() {
    ((EUID != 0)) || runuser -u postgres -- test -x "$1" 2>/dev/null
}

# DIR/pg is the PostgreSQL root (data/, log, socket); see the header for the /var/tmp case.
# A mktemp -d folder is mode 700: let the postgres user through it (not list it).
prepare_pg_root() {
    if ((EUID == 0)) && [[ -O "$DIR" ]]; then
        chmod o+x "$DIR"
    fi
    if [[ -L "$DIR/pg" ]]; then
        PG_ROOT=$(readlink "$DIR/pg")
    elif [[ -d "$DIR/pg" ]]; then
        PG_ROOT=$DIR/pg
    elif pg_user_can_reach "$DIR"; then
        PG_ROOT=$DIR/pg
        mkdir -p "$PG_ROOT"
    else
        PG_ROOT=$(mktemp -d /var/tmp/speezy-pg.XXXXXXXX)
        ln -s "$PG_ROOT" "$DIR/pg"
    fi
    mkdir -p "$PG_ROOT"
    ((EUID != 0)) || chown postgres: "$PG_ROOT"
    chmod 700 "$PG_ROOT"
    PGDATA=$PG_ROOT/data
}

# --- ports ---------------------------------------------------------------------------------

port_in_use() {
    timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Below the kernel's ephemeral range (32768+), so outgoing connections never take it later.
random_free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 12000))
        if ! port_in_use "$p"; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

pick_port() { # preferred-port-or-empty
    if [[ -n "$1" ]] && ! port_in_use "$1"; then
        echo "$1"
    else
        random_free_port
    fi
}

load_ports() {
    PG_PORT=${SERVERS_PG_PORT:-}
    REDIS_PORT=${SERVERS_REDIS_PORT:-}
    PORTS_FRESH=0
    if [[ -f "$DIR/ports" ]]; then
        # shellcheck disable=SC1091
        . "$DIR/ports"
        return
    fi
    local pref_pg="" pref_redis=""
    if [[ "$(basename "$DIR")" == ".run" ]]; then
        pref_pg=54329
        pref_redis=63799
    fi
    [[ -n "$PG_PORT" ]] || PG_PORT=$(pick_port "$pref_pg")
    [[ -n "$REDIS_PORT" ]] || REDIS_PORT=$(pick_port "$pref_redis")
    [[ -n "${SERVERS_PG_PORT:-}${SERVERS_REDIS_PORT:-}" ]] || PORTS_FRESH=1
    save_ports
}

save_ports() {
    printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$PG_PORT" "$REDIS_PORT" >"$DIR/ports"
}

# --- passwords -----------------------------------------------------------------------------

# 32 random bytes in hex: safe in a URL and in SQL without any quoting.
random_password() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

# The DIR's passwords, made on first use and never changed after: a running server, .env and
# DIR/env all hold them. `stop` may make them too, harmlessly: the next start needs them.
load_passwords() {
    PG_PASSWORD=""
    REDIS_PASSWORD=""
    if [[ -f "$DIR/passwords" ]]; then
        # shellcheck disable=SC1091
        . "$DIR/passwords"
    fi
    local fresh=0
    if [[ -z "$PG_PASSWORD" ]]; then
        PG_PASSWORD=$(random_password)
        fresh=1
    fi
    if [[ -z "$REDIS_PASSWORD" ]]; then
        REDIS_PASSWORD=$(random_password)
        fresh=1
    fi
    [[ "$PG_PASSWORD$REDIS_PASSWORD" =~ ^[0-9a-f]+$ ]] || die "$DIR/passwords: not hex passwords"
    ((fresh == 0)) || save_passwords
}

# Mode 600 from the start (umask), then renamed into place: never readable by others.
save_passwords() {
    (
        umask 077
        printf 'PG_PASSWORD=%s\nREDIS_PASSWORD=%s\n' "$PG_PASSWORD" "$REDIS_PASSWORD" \
            >"$DIR/passwords.tmp"
    )
    mv "$DIR/passwords.tmp" "$DIR/passwords"
}

# Mode 600 like DIR/passwords: the URLs carry the passwords. REDIS_URL names the user
# `default` (whose password requirepass sets): redis-cli 7.0 -u sends "AUTH '' <password>"
# for the bare ":<password>@" form and fails, while speezy, ioredis and redis-cli all accept
# "default:<password>@".
write_env() {
    local tmp=$DIR/env.tmp
    (
        umask 077
        cat >"$tmp" <<EOF
DATABASE_URL=postgresql://postgres:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
REDIS_URL=redis://default:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT
PG_PORT=$PG_PORT
REDIS_PORT=$REDIS_PORT
PGDATA=$PGDATA
PG_BIN=$PG_BIN
EOF
    )
    mv "$tmp" "$DIR/env"
}

# --- PostgreSQL ----------------------------------------------------------------------------

pg_running() {
    [[ -f "$PGDATA/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

# The first line of every pg_hba.conf servers.sh writes; a cluster without it predates
# passwords (see pg_secure).
PG_HBA_MARK="# written by spec/tools/servers.sh: password over TCP, trust on the Unix socket"

# TCP asks for the password (scram-sha-256). The Unix socket stays trusted: it lives in
# PG_ROOT, mode 700, so only the cluster's owner (and root), who can read DIR/passwords
# anyway, can reach it; it is also the way back in should DIR/passwords ever be lost
# (psql -h PG_ROOT -U postgres, then ALTER USER postgres PASSWORD '...').
# Written by the cluster's owner (tee under as_pg), as every file in PGDATA.
pg_write_hba() {
    as_pg tee "$PGDATA/pg_hba.conf" >/dev/null <<EOF
$PG_HBA_MARK
local all all                trust
host  all all 127.0.0.1/32   scram-sha-256
host  all all ::1/128        scram-sha-256
EOF
}

# A fresh cluster needs the password from its very first start: initdb reads it from a file
# in PG_ROOT (mode 700, the owner's), removed right after.
pg_initdb() {
    [[ -f "$PGDATA/PG_VERSION" ]] && return
    local pwfile=$PG_ROOT/initdb.pw rc=0
    (
        umask 077
        printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    )
    ((EUID != 0)) || chown postgres: "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --pwfile="$pwfile" --auth-host=scram-sha-256 \
        --auth-local=trust -E UTF8 --locale=C --no-sync >"$PG_ROOT/initdb.log" 2>&1 || rc=$?
    rm -f "$pwfile"
    ((rc == 0)) || die "initdb failed; see $PG_ROOT/initdb.log"
    pg_write_hba
}

pg_options() {
    local opts="-p $PG_PORT -c listen_addresses=127.0.0.1 -c max_connections=200"
    # A Unix socket path is limited to 107 bytes; past that, TCP only.
    if ((${#PG_ROOT} + 20 < 100)); then
        opts+=" -c unix_socket_directories='$PG_ROOT'"
    else
        opts+=" -c unix_socket_directories="
    fi
    if [[ "$MODE" == test ]]; then
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    echo "$opts"
}

pg_try_start() {
    as_pg "$PG_BIN/pg_ctl" start -D "$PGDATA" -l "$PG_ROOT/postgresql.log" -w -t "$WAIT_SECONDS" \
        -o "$(pg_options)" >/dev/null 2>&1
}

pg_start() {
    pg_initdb
    if pg_running; then
        pg_secure # one from before passwords, left running
        return
    fi
    local tries=1
    ((PORTS_FRESH)) && tries=5
    while ! pg_try_start; do
        tries=$((tries - 1))
        if ((tries == 0)) || ! port_in_use "$PG_PORT"; then
            tail -n 20 "$PG_ROOT/postgresql.log" >&2 || true
            die "PostgreSQL did not start on 127.0.0.1:$PG_PORT; see $PG_ROOT/postgresql.log"
        fi
        # Another process took the port between our check and the bind: pick again.
        PG_PORT=$(random_free_port)
        save_ports
    done
    pg_secure
    pg_create_db
}

# psql as `postgres` over TCP with the DIR's password, passed in the environment so that it
# is never on a command line; a ~/.pgpass is not consulted (PGPASSFILE names no file: libpq
# then reads none, where /dev/null itself would draw a warning).
pg_psql() {
    PGPASSWORD=$PG_PASSWORD PGPASSFILE=/dev/null/none \
        "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tA "$@"
}

# A cluster made before passwords (initdb -A trust: its pg_hba.conf lacks PG_HBA_MARK) is
# upgraded in place, running, with its data: ALTER USER gives `postgres` the DIR's password
# (TCP still trusts anyone at that moment), then our pg_hba.conf and a reload make TCP ask
# for it. Each step can be repeated, so an upgrade cut short is finished by the next start.
# Any other cluster costs no round trip (a running one may be frozen by a test).
pg_secure() {
    [[ "$(as_pg head -n 1 "$PGDATA/pg_hba.conf")" == "$PG_HBA_MARK" ]] && return
    pg_psql -c "ALTER USER postgres PASSWORD '$PG_PASSWORD'" >/dev/null ||
        die "could not set the password of PostgreSQL in $PGDATA"
    pg_write_hba
    as_pg "$PG_BIN/pg_ctl" reload -D "$PGDATA" >/dev/null
    echo "servers.sh: PostgreSQL in $PGDATA now asks for the password in $DIR/passwords" >&2
}

# Right after the start, so it also proves that the DIR's password is accepted.
pg_create_db() {
    local exists
    exists=$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'") ||
        die "PostgreSQL on 127.0.0.1:$PG_PORT refused psql (above); password: $DIR/passwords"
    [[ -n "$exists" ]] || pg_psql -c "CREATE DATABASE $PG_DB" >/dev/null
}

# The postmaster, then its children (backends and helpers): stopped first, it forks no new
# one while the list is taken.
pg_signal() { # STOP|CONT
    local pid children
    pid=$(head -n 1 "$PGDATA/postmaster.pid" 2>/dev/null) || return 0
    [[ -n "$pid" && -r "/proc/$pid/comm" && "$(<"/proc/$pid/comm")" == postgres ]] || return 0
    kill -"$1" "$pid"
    children=$(ps -o pid= --ppid "$pid") || true
    # shellcheck disable=SC2086 # one pid per word; a backend may exit meanwhile
    kill -"$1" $children 2>/dev/null || true
}

pg_stop() {
    pg_running || return 0
    pg_signal CONT # a frozen server would never act on the stop request
    as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t "$WAIT_SECONDS" >/dev/null
}

# --- Redis ---------------------------------------------------------------------------------

redis_pid() {
    local pid
    [[ -f "$DIR/redis/redis.pid" ]] || return 1
    pid=$(<"$DIR/redis/redis.pid")
    [[ -n "$pid" && -r "/proc/$pid/comm" && "$(<"/proc/$pid/comm")" == redis-server* ]] || return 1
    echo "$pid"
}

redis_signal() { # STOP|CONT
    local pid
    pid=$(redis_pid) || return 0
    kill -"$1" "$pid"
}

# Mode 600 (renamed into place, so an older world-readable file goes too): it holds the
# password. It also records how the running Redis was started (see redis_upgrade_running):
# appendonly is "no" only while an older DIR is being converted (see redis_start).
redis_write_conf() { # [appendonly: yes (default) | no]
    local save='save ""' tmp=$DIR/redis/redis.conf.tmp
    [[ "$MODE" == dev ]] && save='save 3600 1 300 100 60 10000'
    (
        umask 077
        cat >"$tmp" <<EOF
# written by spec/tools/servers.sh on every start
bind 127.0.0.1
port $REDIS_PORT
requirepass $REDIS_PASSWORD
protected-mode yes
daemonize no
dir $DIR/redis
logfile $DIR/redis/redis.log
$save
appendonly ${1:-yes}
appendfsync everysec
appenddirname appendonlydir
appendfilename appendonly.aof
maxmemory-policy noeviction
EOF
    )
    mv "$tmp" "$DIR/redis/redis.conf"
}

# Written by Redis when an AOF rewrite completes (appenddirname/appendfilename above): the
# AOF exists and holds the whole dataset.
REDIS_AOF_MANIFEST=appendonlydir/appendonly.aof.manifest

# redis-cli on our port; REDISCLI_AUTH keeps the password off the command line (and the
# caller's own REDISCLI_AUTH out): `redis_cli ""` is unauthenticated.
redis_cli() { # password args...
    local pw=$1
    shift
    if [[ -n "$pw" ]]; then
        REDISCLI_AUTH=$pw redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    else
        env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
    fi
}

# With the DIR's password: another folder's Redis on this port answers WRONGPASS, not PONG.
# stderr counts too: when AUTH fails (a Redis without any password), redis-cli says so there
# and still sends the PING.
redis_ping() {
    [[ "$(redis_cli "$REDIS_PASSWORD" ping 2>&1)" == PONG ]]
}

# A running Redis started with another password than the DIR's (none: from before passwords;
# another: DIR/passwords was lost) gets the DIR's with CONFIG SET, sent on stdin (off the
# command line), and keeps its data.
redis_secure() { # password-it-has
    printf 'CONFIG SET requirepass %s\n' "$REDIS_PASSWORD" | redis_cli "$1" >/dev/null
    redis_ping || die "Redis on port $REDIS_PORT refuses the password set by CONFIG SET"
    echo "servers.sh: Redis on port $REDIS_PORT now asks for the password in $DIR/passwords" >&2
}

# Turns the AOF on in a running Redis whose data the AOF does not hold yet (loaded from an
# older DIR's dump.rdb, or written while it ran without one): CONFIG SET starts a rewrite
# that writes the whole dataset as the AOF's base, and this waits until it is done. Redis 7.0
# started with appendonly yes on such a DIR would start empty instead: once the AOF is on it
# reads no dump.rdb, and makes an empty AOF.
redis_aof_on() {
    local out info
    out=$(printf '%s\n' 'CONFIG SET maxmemory-policy noeviction' 'CONFIG SET appendfsync everysec' \
        'CONFIG SET appendonly yes' | redis_cli "$REDIS_PASSWORD" 2>&1)
    [[ "$(tr -d '\r' <<<"$out")" == $'OK\nOK\nOK' ]] ||
        die "Redis on port $REDIS_PORT refused to turn its AOF on: $out"
    for _ in $(seq 1 $((WAIT_SECONDS * 10))); do
        info=$(redis_cli "$REDIS_PASSWORD" info persistence | tr -d '\r')
        if [[ -f "$DIR/redis/$REDIS_AOF_MANIFEST" && $info == *$'\naof_rewrite_in_progress:0\n'* &&
            $info == *$'\naof_rewrite_scheduled:0\n'* ]]; then
            [[ $info == *$'\naof_last_bgrewrite_status:ok\n'* ]] ||
                die "Redis on port $REDIS_PORT failed to write its AOF; see $DIR/redis/redis.log"
            echo "servers.sh: Redis on port $REDIS_PORT now keeps its data in" \
                "$DIR/redis/appendonlydir (appendonly yes)" >&2
            return
        fi
        sleep 0.1
    done
    die "Redis on port $REDIS_PORT did not finish writing its AOF; see $DIR/redis/redis.log"
}

# A running Redis started by an older servers.sh, as the redis.conf written at its start
# says: without the DIR's password, or without the AOF and noeviction. Each is put right
# with CONFIG SET, keeping the data, and the rewritten redis.conf records it. Each step can
# be repeated, so an upgrade cut short is finished by the next start. Otherwise no round
# trip (it may be frozen by a test).
redis_upgrade_running() {
    local conf=$DIR/redis/redis.conf was aof
    was=$(sed -n 's/^requirepass //p' "$conf" 2>/dev/null) || true
    aof=$(sed -n 's/^appendonly //p' "$conf" 2>/dev/null) || true
    [[ "$was" == "$REDIS_PASSWORD" && "$aof" == yes ]] && return
    [[ "$was" == "$REDIS_PASSWORD" ]] || redis_secure "$was"
    [[ "$aof" == yes ]] || redis_aof_on
    redis_write_conf yes
}

# Started in its own session (setsid) so a Ctrl-C on `make run` leaves it alone; we record
# its pid ourselves because without daemonize the pid is simply $!.
redis_try_start() { # appendonly
    local pid
    redis_write_conf "$1"
    setsid redis-server "$DIR/redis/redis.conf" </dev/null >>"$DIR/redis/redis.log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$DIR/redis/redis.pid"
    for _ in $(seq 1 $((WAIT_SECONDS * 10))); do
        kill -0 "$pid" 2>/dev/null || return 1
        redis_ping && return 0
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    return 1
}

redis_start() {
    command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
    mkdir -p "$DIR/redis"
    if redis_pid >/dev/null; then
        redis_upgrade_running # one from an older servers.sh, left running
        return
    fi
    # A DIR from before the AOF, holding its data in dump.rdb only, starts without the AOF
    # (so Redis loads dump.rdb) and turns it on once running.
    local aof=yes
    [[ -f "$DIR/redis/dump.rdb" && ! -f "$DIR/redis/$REDIS_AOF_MANIFEST" ]] && aof=no
    local tries=1
    ((PORTS_FRESH)) && tries=5
    while ! redis_try_start "$aof"; do
        tries=$((tries - 1))
        if ((tries == 0)) || ! port_in_use "$REDIS_PORT"; then
            tail -n 20 "$DIR/redis/redis.log" >&2 || true
            die "Redis did not start on 127.0.0.1:$REDIS_PORT; see $DIR/redis/redis.log"
        fi
        REDIS_PORT=$(random_free_port)
        save_ports
    done
    if [[ "$aof" == no ]]; then
        redis_aof_on
        redis_write_conf yes
    fi
}

redis_stop() {
    local pid
    pid=$(redis_pid) || {
        rm -f "$DIR/redis/redis.pid"
        return 0
    }
    kill -CONT "$pid" 2>/dev/null || true # a frozen server would never act on TERM
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 $((WAIT_SECONDS * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$DIR/redis/redis.pid"
}

# --- commands ------------------------------------------------------------------------------

# Everything below runs under DIR/.lock so a harness and a developer can't interleave.
setup() {
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    exec 9>"$DIR/.lock"
    flock 9
    find_pg_bin
    MODE=${SERVERS_MODE:-}
    if [[ -z "$MODE" ]]; then
        MODE="test"
        [[ "$(basename "$DIR")" == ".run" ]] && MODE=dev
    fi
    [[ "$MODE" == dev || "$MODE" == test ]] || die "SERVERS_MODE must be dev or test"
    prepare_pg_root
    load_ports
    load_passwords
}

destroy() {
    if [[ ! -d "$DIR" ]]; then
        return
    fi
    local abs
    abs=$(cd "$DIR" && pwd)
    [[ "$abs" != / && -n "$(basename "$abs")" ]] || die "refusing to destroy $abs"
    if [[ -n "$(ls -A "$abs")" && ! -f "$abs/.lock" ]]; then
        die "refusing to destroy $abs: not a servers.sh folder"
    fi
    if [[ -f "$abs/ports" ]]; then
        setup
        pg_stop
        redis_stop
    fi
    if [[ -L "$abs/pg" ]]; then
        rm -rf "$(readlink "$abs/pg")"
    fi
    rm -rf "$abs"
}

main() {
    (($# == 2)) || usage
    local cmd=$1
    DIR=$2
    [[ -n "$DIR" ]] || usage
    # Plain sequences, not && chains: set -e is suspended inside functions called from one.
    # Stopping a folder that was never started does nothing and creates nothing.
    case "$cmd" in
    start | start-pg | start-redis | restart-pg | restart-redis) setup ;;
    stop | stop-pg | stop-redis | freeze-* | thaw-*) if [[ -f "$DIR/ports" ]]; then setup; else exit 0; fi ;;
    destroy) ;;
    *) usage ;;
    esac
    case "$cmd" in
    start)
        pg_start
        redis_start
        ;;
    start-pg) pg_start ;;
    start-redis) redis_start ;;
    restart-pg)
        pg_stop
        pg_start
        ;;
    restart-redis)
        redis_stop
        redis_start
        ;;
    stop)
        pg_stop
        redis_stop
        ;;
    stop-pg) pg_stop ;;
    stop-redis) redis_stop ;;
    freeze-pg) pg_signal STOP ;;
    thaw-pg) pg_signal CONT ;;
    freeze-redis) redis_signal STOP ;;
    thaw-redis) redis_signal CONT ;;
    destroy) destroy ;;
    esac
    case "$cmd" in
    start* | restart*) write_env ;;
    esac
}

main "$@"

# spec/bench/data.sh — sourced by run.sh, callgrind.sh and syscalls.sh: the PostgreSQL + Redis
# behind S3 (/redis) and S4 (/users/ID), with the data those routes read.
#
# bench_data DIR BIN: starts spec/tools/servers.sh in DIR (servers already running there are
# reused), applies the migrations with BIN, seeds 10,000 users and the key bench:key (again
# harmlessly on a reused DIR), and sets DATABASE_URL, REDIS_URL, ID_LO and ID_HI (the users'
# id range). Returns 1, having said why on stderr, when the servers did not start; a failed
# migration or seed is said and left to fail the scenario that needs it.
# shellcheck shell=bash disable=SC2034 # (the variables are for the scripts that source it)
bench_data() {
    local dir=$1 bin=$2
    if ! spec/tools/servers.sh start "$dir" >"$dir.log" 2>&1; then
        echo "bench: servers.sh failed:" >&2
        tail -n 20 "$dir.log" >&2
        return 1
    fi
    DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' "$dir/env")
    REDIS_URL=$(sed -n 's/^REDIS_URL=//p' "$dir/env")
    if ! DATABASE_URL=$DATABASE_URL "$bin" migrate >"$dir.migrate.log" 2>&1; then
        echo "bench: speezy migrate failed; S4 will fail:" >&2
        tail -n 20 "$dir.migrate.log" >&2
    fi
    psql "$DATABASE_URL" -q -v ON_ERROR_STOP=1 -c \
        "INSERT INTO users (phone, name, role)
         SELECT '+9199' || lpad(i::text, 8, '0'), 'User ' || i, 'CUSTOMER'
         FROM generate_series(1, 10000) AS i
         ON CONFLICT (phone) WHERE deleted_at IS NULL DO NOTHING" >&2 ||
        echo "bench: seeding users failed; S4 will fail" >&2
    read -r ID_LO ID_HI < <(psql "$DATABASE_URL" -At -F ' ' \
        -c 'SELECT min(id), max(id) FROM users' 2>/dev/null || echo "1 10000")
    # The URL carries the servers' password (spec/tools/servers.sh); it stays in this run.
    redis-cli --no-auth-warning -u "$REDIS_URL" SET bench:key "hello from redis" >/dev/null
}

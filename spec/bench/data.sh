# spec/bench/data.sh — sourced by run.sh, callgrind.sh and syscalls.sh: the PostgreSQL + Redis
# behind S3 (/redis), S4 (/users/ID) and S5 (/user/me), with the data those routes read, and
# the access token of S2 and S5.
#
# bench_data DIR BIN: starts spec/tools/servers.sh in DIR (servers already running there are
# reused), applies the migrations with BIN, seeds 10,000 users and the key bench:key (again
# harmlessly on a reused DIR), and sets DATABASE_URL, REDIS_URL, ID_LO and ID_HI (the users'
# id range). Returns 1, having said why on stderr, when the servers did not start; a failed
# migration or seed is said and left to fail the scenario that needs it. bench_session and
# bench_token (below) add what S5 (/user/me), S8 (`{ me }`) and S2 (/claims) need,
# bench_store_owner what S6 (POST /store) and S7 (GET /store/ID) need, bench_stores what S9
# (a page of stores) needs.
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

# bench_session: a live login session for the first seeded user (ID_LO), as
# scripts/auth/session.lua opens one: a sessions row (one live per user; on a reused DIR the
# live one is kept) and the Redis key sess:<sid> = "live". Sets BENCH_SID and BENCH_ROLE for
# the access token of S2 and S5 (sub ID_LO). Returns 1, having said why, when it could not.
bench_session() {
    BENCH_ROLE=CUSTOMER
    BENCH_SID=$(psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -v uid="$ID_LO" <<'SQL'
INSERT INTO sessions (user_id, refresh_hash, expires_at)
SELECT :uid, encode(sha256(gen_random_uuid()::text::bytea), 'hex'), now() + interval '30 days'
WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = :uid AND revoked_at IS NULL);
SELECT id FROM sessions WHERE user_id = :uid AND revoked_at IS NULL;
SQL
    ) || true
    if [[ -z $BENCH_SID ]]; then
        echo "bench: seeding the session failed; S5 will fail" >&2
        return 1
    fi
    redis-cli --no-auth-warning -u "$REDIS_URL" SET "sess:$BENCH_SID" live EX 2592000 >/dev/null
}

# bench_token: the access token of S2 and S5 in TOKEN, minted by @fastify/jwt's signer
# (spec/bench/fastify/token.js, run from spec/bench/node: install_node in lib.sh) under
# JWT_SECRET with speezy's kid, for user ID_LO with BENCH_ROLE and session BENCH_SID
# (bench_session). Without a session (S2 alone) the token names a made-up one of the same
# form. Returns 1, having said why, when node failed.
bench_token() {
    TOKEN=$(cd "$ROOT/spec/bench/node" && JWT_SECRET=$JWT_SECRET node token.js "${ID_LO:-1}" \
        "${BENCH_ROLE:-CUSTOMER}" "${BENCH_SID:-00000000-0000-4000-8000-000000000000}") || TOKEN=
    # S9 reads stores' owners, which the schema shows to administrators only: the same user
    # and session under an ADMIN token (the role is the signed claim both stacks check)
    ADMIN_TOKEN=$(cd "$ROOT/spec/bench/node" && JWT_SECRET=$JWT_SECRET node token.js \
        "${ID_LO:-1}" ADMIN "${BENCH_SID:-00000000-0000-4000-8000-000000000000}") || ADMIN_TOKEN=
    if [[ -z $TOKEN || -z $ADMIN_TOKEN ]]; then
        echo "bench: minting the access token failed" >&2
        return 1
    fi
}

# bench_store_owner: what S6 (POST /store) and S7 (GET /store/ID) need: a STORE_OWNER user
# (phone +919800000000, kept on a reused DIR) with a live session opened as bench_session
# opens one, its access token in OWNER_TOKEN (minted as bench_token mints TOKEN), and one
# store with its address for S7 in STORE_ID. Returns 1, having said why, when it could not.
bench_store_owner() {
    local ids
    ids=$(psql "$DATABASE_URL" -qAt -F ' ' -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO users (phone, name, role) VALUES ('+919800000000', 'Bench Owner', 'STORE_OWNER')
ON CONFLICT (phone) WHERE deleted_at IS NULL DO NOTHING;
WITH o AS (SELECT id FROM users WHERE phone = '+919800000000' AND deleted_at IS NULL),
s AS (
  INSERT INTO sessions (user_id, refresh_hash, expires_at)
  SELECT o.id, encode(sha256(gen_random_uuid()::text::bytea), 'hex'), now() + interval '30 days'
  FROM o WHERE NOT EXISTS (SELECT 1 FROM sessions x WHERE x.user_id = o.id AND x.revoked_at IS NULL)
)
SELECT 1;
WITH o AS (SELECT id FROM users WHERE phone = '+919800000000' AND deleted_at IS NULL),
a AS (
  INSERT INTO addresses (street, city, state, postal_code, country, latitude, longitude)
  SELECT '123 Main St', 'Bengaluru', 'Karnataka', '560001', 'India', 12.9716, 77.5946
  WHERE NOT EXISTS (SELECT 1 FROM stores st JOIN o ON st.owner_id = o.id)
  RETURNING id
)
INSERT INTO stores (owner_id, address_id, name, description, phone)
SELECT o.id, a.id, 'Bench Store', 'the store S7 reads', '9876543210' FROM o, a;
SELECT o.id, (SELECT id FROM sessions WHERE user_id = o.id AND revoked_at IS NULL),
       (SELECT min(id) FROM stores WHERE owner_id = o.id)
FROM (SELECT id FROM users WHERE phone = '+919800000000' AND deleted_at IS NULL) o;
SQL
    ) || true
    local owner sid
    read -r owner sid STORE_ID <<<"$(tail -n 1 <<<"$ids")"
    if [[ -z $owner || -z $sid || -z $STORE_ID ]]; then
        echo "bench: seeding the store owner failed; S6 and S7 will fail" >&2
        return 1
    fi
    redis-cli --no-auth-warning -u "$REDIS_URL" SET "sess:$sid" live EX 2592000 >/dev/null
    OWNER_TOKEN=$(cd "$ROOT/spec/bench/node" && JWT_SECRET=$JWT_SECRET node token.js "$owner" \
        STORE_OWNER "$sid") || OWNER_TOKEN=
    if [[ -z $OWNER_TOKEN ]]; then
        echo "bench: minting the store owner's token failed; S6 will fail" >&2
        return 1
    fi
}

# bench_stores: what S9 (a page of 20 stores with their owners and addresses) reads: 20 stores
# (BENCH_STORES), each with an owner of its own (STORE_OWNER, phones +9198100000NN) and an
# address in a city of its own, so that a resolver asking per store would pay for every one.
# Seeded before bench_store_owner and S6 add theirs, they are the first page by id. Kept on a
# reused DIR (an owner with a store gets no second one). Returns 1, having said why, when it
# could not.
bench_stores() {
    local n
    n=$(psql "$DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -v n="${BENCH_STORES:-20}" <<'SQL'
INSERT INTO users (phone, name, role)
SELECT '+9198100' || lpad(i::text, 5, '0'), 'Store Owner ' || i, 'STORE_OWNER'
FROM generate_series(1, :n) AS i
ON CONFLICT (phone) WHERE deleted_at IS NULL DO NOTHING;
WITH o AS (
  SELECT u.id, row_number() OVER (ORDER BY u.phone) AS i
  FROM users u
  WHERE u.phone LIKE '+9198100%' AND u.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM stores s WHERE s.owner_id = u.id)
), a AS (
  INSERT INTO addresses (user_id, street, city, state, postal_code, country, latitude, longitude)
  SELECT o.id, o.i || ' Market Road', 'City ' || o.i, 'Karnataka', '560001', 'India',
         12.9 + o.i / 1000.0, 77.5 + o.i / 1000.0
  FROM o ORDER BY o.i
  RETURNING id, user_id
)
INSERT INTO stores (owner_id, address_id, name, description, phone)
SELECT o.id, a.id, 'Bench Store ' || o.i, 'a store of the S9 page', '98765' || lpad(o.i::text, 5, '0')
FROM o JOIN a ON a.user_id = o.id
ORDER BY o.i;
SELECT count(*) FROM stores s JOIN users u ON u.id = s.owner_id
WHERE u.phone LIKE '+9198100%' AND s.deleted_at IS NULL;
SQL
    ) || true
    if [[ ${n:-0} -lt ${BENCH_STORES:-20} ]]; then
        echo "bench: seeding the stores of S9 failed; S9 will fail" >&2
        return 1
    fi
}

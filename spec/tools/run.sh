#!/usr/bin/env bash
# run.sh — what `make run` does once build/speezy is built: a .env with fresh development
# secrets when there is none, project-local PostgreSQL/Redis when the user configured none,
# migrations, then the server in the foreground.
#
# Local servers live in .run/ (spec/tools/servers.sh; `make stop` stops them). Their URLs are
# exported to the server, never written into .env, so .env stays the user's own file and an
# empty DATABASE_URL/REDIS_URL there keeps meaning "use the local servers".
set -euo pipefail

cd "$(dirname "$0")/../.."
SPEEZY=${SPEEZY:-build/speezy}
SECRETS_RE='^(JWT_SECRET|OTP_SECRET|ADMIN_TOKEN)='

random_secret() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

write_dotenv() {
    [[ -f .env ]] && return
    local tmp=.env.tmp.$$ line
    (
        umask 077
        while IFS= read -r line || [[ -n "$line" ]]; do
            if [[ "$line" =~ $SECRETS_RE ]]; then
                line="${line%%=*}=$(random_secret)"
            fi
            printf '%s\n' "$line"
        done <.env.example >"$tmp"
    )
    mv "$tmp" .env
    echo "run.sh: wrote .env from .env.example with fresh random secrets"
}

# The last assignment of $1 in .env, surrounding quotes removed ("" when absent).
dotenv_value() {
    local v
    v=$(sed -nE "s/^[[:space:]]*(export[[:space:]]+)?$1=(.*)$/\2/p" .env | tail -n 1)
    v=${v%"${v##*[![:space:]]}"}
    if [[ "$v" =~ ^\"(.*)\"$ || "$v" =~ ^\'(.*)\'$ ]]; then
        v=${BASH_REMATCH[1]}
    fi
    echo "$v"
}

configured() {
    [[ -n "${!1:-}" || -n "$(dotenv_value "$1")" ]]
}

# Starts only the local servers the user did not configure and exports their URLs.
local_servers() {
    local what=""
    configured DATABASE_URL || what+=pg
    configured REDIS_URL || what+=redis
    case "$what" in
    "") return ;;
    pg) spec/tools/servers.sh start-pg .run ;;
    redis) spec/tools/servers.sh start-redis .run ;;
    pgredis) spec/tools/servers.sh start .run ;;
    esac
    local url
    if [[ "$what" == pg* ]]; then
        url=$(sed -n 's/^DATABASE_URL=//p' .run/env)
        export DATABASE_URL=$url
        echo "run.sh: local PostgreSQL at $url (.run/; make stop stops it)"
    fi
    if [[ "$what" == *redis ]]; then
        url=$(sed -n 's/^REDIS_URL=//p' .run/env)
        export REDIS_URL=$url
        echo "run.sh: local Redis at $url (.run/; make stop stops it)"
    fi
}

main() {
    write_dotenv
    local_servers
    configured PORT || export PORT=4000
    "$SPEEZY" migrate
    exec "$SPEEZY" serve
}

main "$@"

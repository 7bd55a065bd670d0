#!/usr/bin/env bash
# run.sh — what `make run` does once build/speezy is built: a .env with fresh development
# secrets when there is none, project-local PostgreSQL/Redis when the user configured none,
# migrations, then the server in the foreground.
#
# Local servers live in .run/ (spec/tools/servers.sh; `make stop` stops them). Their URLs,
# with the random passwords servers.sh made for .run/, are written into .env; a URL there
# that is the local server's own still means "use the local servers", so the next `make run`
# starts them again. The passwords are never printed.
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

# The URL the local server in .run/ has for $1 ("" before it ever started).
local_url() {
    [[ -f .run/env ]] && sed -n "s/^$1=//p" .run/env
}

# $1 without the password of its user info: what the same local server's URL looked like
# before servers.sh gave it passwords (postgresql://postgres@..., redis://...).
without_password() {
    sed -E 's#^([a-z]+://[^:@/]*):[^@/]*@#\1@#; s#^([a-z]+://)(default)?@#\1#' <<<"$1"
}

# $1 without scheme and user info (host:port/db): what can be shown, the password never is.
without_secret() {
    sed -E 's#^[a-z]+://([^@/]*@)?##' <<<"$1"
}

# Set by the user: in the environment, or in .env with a value that is not the local
# server's own URL (which this script writes there itself). A URL from before the local
# servers had passwords is theirs too: the next start upgrades them and rewrites the line.
configured() {
    local v=${!1:-} own
    [[ -n $v ]] && return 0
    v=$(dotenv_value "$1")
    own=$(local_url "$1")
    [[ -n $v && $v != "$own" && ( -z $own || $v != "$(without_password "$own")" ) ]]
}

# Points .env at the local server, so every tool reading .env (psql, speezy migrate,
# speezy test) finds it; `make stop` leaves the line, and the next `make run` recognizes it.
point_dotenv() {
    local name=$1 url=$2
    if grep -qE "^[[:space:]]*$name=" .env; then
        sed -i -E "s|^[[:space:]]*$name=.*$|$name=$url|" .env
    else
        printf '%s=%s\n' "$name" "$url" >>.env
    fi
}

# Adds NAME=value to .env when no line sets NAME: a .env written before .env.example had it.
dotenv_default() { # name value
    grep -qE "^[[:space:]]*(export[[:space:]]+)?$1=" .env || printf '%s=%s\n' "$1" "$2" >>.env
}

# The outbox is where a newcomer reads the login codes: say where, unless texts go elsewhere.
sms_outbox() {
    dotenv_default SMS_OUTBOX_PATH .run/sms-outbox.jsonl
    local provider=${SMS_PROVIDER:-$(dotenv_value SMS_PROVIDER)}
    if [[ -z $provider || $provider == outbox ]]; then
        echo "run.sh: texts (login codes) go to" \
            "${SMS_OUTBOX_PATH:-$(dotenv_value SMS_OUTBOX_PATH)}: tail -f it"
    fi
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
        url=$(local_url DATABASE_URL)
        export DATABASE_URL=$url
        point_dotenv DATABASE_URL "$url"
        echo "run.sh: local PostgreSQL at $(without_secret "$url") (.run/; full URL in .env;" \
            "make stop stops it)"
    fi
    if [[ "$what" == *redis ]]; then
        url=$(local_url REDIS_URL)
        export REDIS_URL=$url
        point_dotenv REDIS_URL "$url"
        echo "run.sh: local Redis at $(without_secret "$url") (.run/; full URL in .env;" \
            "make stop stops it)"
    fi
}

main() {
    write_dotenv
    sms_outbox
    local_servers
    configured PORT || export PORT=4000
    "$SPEEZY" migrate
    exec "$SPEEZY" serve
}

main "$@"

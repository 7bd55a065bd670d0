#!/usr/bin/env bash
# deps.sh — `make deps`: installs the Debian 12 packages Speezy builds, runs and tests with,
# then the npm packages of spec/tools/js (package-lock.json pins them): the Swagger UI files
# the host serves at /docs (UI_ASSETS_DIR) and the JavaScript tools the specs run (newman,
# swagger-parser, playwright-core driving Debian's chromium). spec/README.md says where.
#
# Idempotent and fast when nothing is missing (one dpkg-query and one file test, no network):
# apt-get update and install run only for what is absent, npm ci only when node_modules is
# missing or older than the lockfile. Non-interactive; as root, or through sudo.
# Installing postgresql or redis-server may start the system's services on 5432/6379:
# Speezy never uses them (spec/tools/servers.sh runs its own) and leaves them alone.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    libuv1-dev node-llhttp libpq-dev libhiredis-dev lua-cjson-dev libssl-dev libmimalloc-dev
    libcurl4-openssl-dev libpcre2-dev
    postgresql postgresql-contrib redis-server
    lua-busted lua-check lua-socket lua-posix
    wrk valgrind clang libclang-rt-14-dev clang-format curl procps
    chromium
)
JS_DIR=$(cd "$(dirname "$0")" && pwd)/js

# Prints the subset of its arguments that dpkg does not report as installed.
not_installed() {
    local installed
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
        awk '$1 == "ii" { print $2 }' || true)
    local p
    for p in "$@"; do
        grep -qxF "$p" <<<"$installed" || echo "$p"
    done
}

missing_packages() {
    local all=("${PACKAGES[@]}" libluajit2-5.1-dev libluajit-5.1-dev luajit2 luajit)
    local absent
    absent=$(not_installed "${all[@]}")
    local p
    for p in "${PACKAGES[@]}"; do
        grep -qxF "$p" <<<"$absent" && echo "$p"
    done
    # The two LuaJIT dev packages conflict: either one (or a luajit.pc from elsewhere) does.
    if grep -qxF libluajit2-5.1-dev <<<"$absent" && grep -qxF libluajit-5.1-dev <<<"$absent" &&
        ! { command -v pkg-config >/dev/null && pkg-config --exists luajit; }; then
        echo libluajit2-5.1-dev
    fi
    if ! command -v luajit >/dev/null; then
        echo luajit2
    fi
    # Node may come from elsewhere (nvm, NodeSource): only install Debian's when absent.
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo nodejs npm
    fi
}

# npm ci wipes and reinstalls node_modules, so it runs only when the installed tree is not
# the lockfile's: npm writes node_modules/.package-lock.json at the end of every install.
# --ignore-scripts: no package's install script runs (one would report the install to a
# third party); none of these needs one to work.
js_packages() {
    local installed=$JS_DIR/node_modules/.package-lock.json
    if [[ -f $installed && ! $JS_DIR/package-lock.json -nt $installed ]]; then
        return
    fi
    echo "deps.sh: npm ci in spec/tools/js"
    (cd "$JS_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

main() {
    local missing
    missing=$(missing_packages | xargs)
    if [[ -z "$missing" ]]; then
        js_packages
        return
    fi
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || {
            echo "deps.sh: missing packages ($missing) and not root; no sudo to install them" >&2
            exit 1
        }
        sudo=(sudo)
    fi
    echo "deps.sh: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    "${sudo[@]}" apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
        -o Dpkg::Options::=--force-confold $missing
    js_packages
}

main "$@"

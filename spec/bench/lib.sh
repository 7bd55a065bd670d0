# shellcheck shell=bash
# spec/bench/lib.sh — what run.sh and queue.sh both measure with; sourced, not run.

# shellcheck disable=SC2034 # read by the scripts that source this
CLK_TCK=$(getconf CLK_TCK)

say() { echo "bench: $*" >&2; }

# PID and every descendant's.
tree_pids() { # pid
    local queue=("$1") pid
    while ((${#queue[@]})); do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        [[ -d /proc/$pid ]] || continue
        echo "$pid"
        # shellcheck disable=SC2207
        queue+=($(pgrep -P "$pid" || true))
    done
}

# utime + stime (clock ticks, every thread) summed over PID and its descendants.
tree_ticks() { # pid
    local pid total=0 stat rest
    for pid in $(tree_pids "$1"); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${stat##*) }
        # shellcheck disable=SC2086
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# 64 hex characters from the kernel's random source: a secret made for one run.
random_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# Fastify, its drivers and @fastify/jwt, installed with npm into BENCH/node (ignored) from
# BENCH/fastify/package-lock.json, again only when the lock file changed; its .js files
# (app.js, stores.js, token.js) are copied there at every call.
install_node() { # BENCH
    local bench=$1 dir=$1/node
    mkdir -p "$dir"
    cp "$bench"/fastify/*.js "$dir/"
    if ! cmp -s "$bench/fastify/package-lock.json" "$dir/.installed-lock.json"; then
        say "installing Fastify into spec/bench/node (npm ci)"
        cp "$bench/fastify/package.json" "$bench/fastify/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
        cp "$bench/fastify/package-lock.json" "$dir/.installed-lock.json"
    fi
}

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

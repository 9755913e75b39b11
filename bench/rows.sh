# shellcheck shell=bash
# The rows of bench/run.sh beyond keep-alive HTTP/1.1 throughput, sourced by
# it (it defines tmp, pids, note, die, run_wrk, load_run, proxy_run, the
# ports, the certificate and the otpgate binary). Each row is measured for
# otpgate and its reference in the same run; extra_row prints the ratio.

# Results of these rows: "label|otpgate|reference|unit|ratio-of" lines.
extra=$tmp/extra.rows
: >"$extra"
extra_row() { echo "$1|$2|$3|$4|$5" >>"$extra"; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kb_of() {
    local total=0 p v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# --- otpgate with the Redis store, beside the memory one ----------------------
# Sets gate_redis_port and gate_redis_pids, or redis_skip with a reason.
start_redis_gateway() {
    redis_skip=
    command -v redis-server >/dev/null || { redis_skip="redis-server not installed"; return 0; }
    local redis_port admin2
    redis_port=$(free_port)
    gate_redis_port=$(free_port)
    admin2=$(free_port)
    redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
        --dir "$tmp" >"$tmp/redis.log" 2>&1 &
    pids+=($!)
    local i
    for ((i = 0; i < 100; i++)); do
        redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    sed -e "s/127.0.0.1:$gate_port/127.0.0.1:$gate_redis_port/" \
        -e "s/127.0.0.1:$admin_port/127.0.0.1:$admin2/" \
        -e "s|^backend = \"memory\"|backend = \"redis\"\nredis_url = \"redis://127.0.0.1:$redis_port\"|" \
        "$tmp/otpgate.toml" >"$tmp/otpgate-redis.toml"
    RUST_LOG=warn "${proxy_run[@]}" "$otpgate" run -c "$tmp/otpgate-redis.toml" \
        >"$tmp/otpgate-redis.out" 2>"$tmp/otpgate-redis.log" &
    local pid=$!
    pids+=("$pid")
    # shellcheck disable=SC2034 # read through run_wrk's nameref
    gate_redis_pids=("$pid")
    wait_http "https://127.0.0.1:$gate_redis_port/" "$pid" "otpgate (redis store)" "$tmp/otpgate-redis.log"
}

# --- new TLS connections per second ---------------------------------------------
# conn_rate PORT MODE: connections/s with `openssl s_time` (MODE -new: a full
# handshake each; -reuse: resumed sessions), CLIENTS processes in parallel,
# each connection making one request (`-www /`) and closing. Counted over
# the wall time of the whole run (s_time's own seconds are whole numbers).
conn_rate() {
    local port=$1 mode=$2 secs=${SECS:-8} clients=${CLIENTS:-2} c t0 t1 stimes=()
    t0=$(date +%s%N)
    for ((c = 0; c < clients; c++)); do
        "${load_run[@]}" openssl s_time -connect "127.0.0.1:$port" -www / "$mode" \
            -time "$secs" >"$tmp/stime-$port$mode-$c.txt" 2>&1 &
        stimes+=($!)
    done
    for c in "${stimes[@]}"; do wait "$c" || true; done
    t1=$(date +%s%N)
    cat "$tmp"/stime-"$port$mode"-*.txt | awk -v ns="$((t1 - t0))" '
        /^Now timing with session id reuse/ { reuse = 1 }
        /connections in [0-9.]+ real seconds/ { n += $1 }
        END { printf "%.0f", n / (ns / 1e9) }'
}

# --- HTTP/2 ------------------------------------------------------------------
# h2_rate PORT: requests/s with h2load (16 connections, 10 streams each).
h2_rate() {
    local out=$tmp/h2load-$1.txt secs=${SECS:-5}
    "${load_run[@]}" h2load -c 16 -m 10 -t "$THREADS" -D "$secs" "https://127.0.0.1:$1/" >"$out" 2>&1 || true
    awk '/^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) { v = $i; sub(/,$/, "", v); print v + 0 } }' "$out"
}

# --- idle keep-alive connections ---------------------------------------------
# idle_rss NAME PORT PIDS...: RSS growth (kB) of PIDS with IDLE connections
# open on PORT, each after one request.
idle_rss() {
    local port=$1 before after fifo=$tmp/idle-$1.fifo out ok failed
    shift
    before=$(rss_kb_of "$@")
    mkfifo "$fifo"
    python3 "$repo/bench/idle.py" "$port" "$IDLE" <"$fifo" >"$tmp/idle-$port.out" &
    local py=$!
    exec {hold}>"$fifo"
    local i
    for ((i = 0; i < 1200; i++)); do
        [[ -s $tmp/idle-$port.out ]] && break
        sleep 0.1
    done
    after=$(rss_kb_of "$@")
    exec {hold}>&-
    wait "$py" || true
    read -r ok failed <"$tmp/idle-$port.out" || { ok=0; failed=$IDLE; }
    ((failed == 0)) || note "idle connections to $port: $failed of $IDLE failed"
    echo "$(((after - before) * 1024 / (ok > 0 ? ok : 1))) $ok"
}

run_extra_rows() {
    if [[ -z ${redis_skip:-} && -n ${redis_cookie:-} ]]; then
        note "protected route, Redis store"
        run_wrk protected_redis "https://127.0.0.1:$gate_redis_port/checkout" gate_redis_pids \
            -H "Cookie: $COOKIE_NAME=$redis_cookie" && {
            local pr
            read -r pr _ < <(median protected_redis)
            extra_row "protected route, Redis store (req/s)" "$pr" "$(median otpgate | cut -d' ' -f1)" "req/s" "pass-through"
        }
    else
        extra_row "protected route, Redis store (req/s)" "skipped: ${redis_skip:-no cookie}" "" "" ""
    fi
    if command -v openssl >/dev/null; then
        local mode label
        for mode in -new -reuse; do
            label="new TLS connections/s, full"
            [[ $mode == -reuse ]] && label="new TLS connections/s, resumed"
            note "$label"
            extra_row "$label" "$(conn_rate "$gate_port" "$mode")" "$(conn_rate "$nginx_port" "$mode")" "conn/s" "nginx"
        done
    fi
    if command -v h2load >/dev/null; then
        note "HTTP/2 (h2load)"
        extra_row "HTTP/2 req/s (h2load -c16 -m10)" "$(h2_rate "$gate_port")" "$(h2_rate "$nginx_port")" "req/s" "nginx"
    else
        extra_row "HTTP/2 req/s (h2load)" "skipped: h2load not installed (apt-get install nghttp2-client)" "" "" ""
    fi
    note "$IDLE idle keep-alive connections"
    local g n
    read -r g _ < <(idle_rss "$gate_port" "${gate_pids[@]}")
    read -r n _ < <(idle_rss "$nginx_port" "${nginx_pids[@]}")
    extra_row "RSS per idle keep-alive connection ($IDLE open)" "$g" "$n" "B" "nginx"
    if [[ ${MEMORY:-1} == 1 ]]; then
        note "memory per pending challenge and held request (bench/memory.sh)"
        if OTPGATE_BIN=$otpgate N=${MEM_N:-40000} WARM=${MEM_WARM:-20000} RESULT=$tmp/memory.result \
            bash "$repo/bench/memory.sh" >"$tmp/memory.txt" 2>&1; then
            local k v
            while IFS='=' read -r k v; do
                case $k in
                memory_challenge_bytes) extra_row "pending challenge, memory store (RSS)" "$v" 256 B "goal" ;;
                redis_challenge_bytes) extra_row "pending challenge, Redis used_memory" "$v" 256 B "goal" ;;
                redis_challenge_burst_bytes) extra_row "pending challenge, Redis, op keys alive (10 s)" "$v" 256 B "goal" ;;
                redis_challenge_key_bytes) extra_row "pending challenge, Redis MEMORY USAGE" "$v" 256 B "goal" ;;
                memory_held_bytes) extra_row "held request of 1000 B, memory store (RSS)" "$v" 1200 B "goal" ;;
                redis_held_bytes) extra_row "held request of 1000 B, Redis used_memory" "$v" 1200 B "goal" ;;
                exact_memory_heap_challenge_bytes) extra_row "pending challenge + counters, memory store heap (dhat, worst)" "$v" 256 B "goal" ;;
                exact_memory_heap_challenge_records_bytes) extra_row "... with the send's records, memory store heap (dhat, worst)" "$v" 256 B "goal" ;;
                exact_memory_heap_held_bytes) extra_row "held request of 1000 B, memory store heap (dhat)" "$v" 1200 B "goal" ;;
                exact_redis_challenge_bytes) extra_row "pending challenge + counters, Redis used_memory (exact)" "$v" 256 B "goal" ;;
                exact_redis_challenge_records_bytes) extra_row "... with the send's records, Redis used_memory (exact)" "$v" 256 B "goal" ;;
                exact_redis_held_bytes) extra_row "held request of 1000 B, Redis used_memory (exact)" "$v" 1200 B "goal" ;;
                esac
            done <"$tmp/memory.result"
        else
            extra_row "memory rows" "failed: $(tail -n 1 "$tmp/memory.txt")" "" "" ""
        fi
    fi
}

print_extra_rows() {
    echo
    printf '%-48s %12s %12s %8s  %s\n' figure otpgate reference ratio "(reference)"
    printf '%-48s %12s %12s %8s  %s\n' "------------------------------------------------" ------------ ------------ -------- -----------
    local label a b unit of r
    while IFS='|' read -r label a b unit of; do
        if [[ -z $b ]]; then
            printf '%-48s %s\n' "$label" "$a"
            continue
        fi
        r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
        printf '%-48s %12s %12s %8s  %s\n' "$label" "$a $unit" "$b $unit" "$r" "$of"
    done <"$extra"
}

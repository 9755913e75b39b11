#!/usr/bin/env bash
# What a pending challenge and a held request cost in memory.
#
# Starts the release binary (memory store, then Redis store on a fresh
# loopback redis-server) with the console SMS provider and limits raised
# out of the way, sends N codes to N distinct numbers through the JSON API
# (after a warm-up of WARM sends), and reports per pending challenge:
#   - memory store: otpgate's RSS growth (/proc/PID/status VmRSS);
#   - Redis store: Redis `used_memory` growth (INFO memory) once the
#     10-second operation keys are gone, and with them (right after the
#     sends), and the sum of `MEMORY USAGE` over every key left, by kind.
# Then HELD held requests (a POST of BODY bytes to a protected route
# without a session) the same way: RSS and Redis bytes per held request.
# Last, the exact figures (EXACT=0 skips them): heap bytes counted by
# dhat in the memory store (tests/memory_per_challenge.rs) and Redis
# bytes through the store API on a fresh server
# (tests/redis_store/memory.rs), each with and without the records a
# send keeps beside its challenge.
#
#   N=40000 WARM=20000 HELD=3000 BODY=1000 THREADS=4 bench/memory.sh
# (a large warm-up: the maps grow by doubling, so a small N measures a
# doubling, not the slope)
#   OTPGATE_BIN=path/to/otpgate   RESULT=file (key=value lines, for run.sh)
set -euo pipefail

N=${N:-40000}
WARM=${WARM:-20000}
HELD=${HELD:-3000}
BODY=${BODY:-1000}
THREADS=${THREADS:-4}
RESULT=${RESULT:-}

die() { echo "memory: $*" >&2; exit 1; }
note() { echo "memory: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
otpgate=${OTPGATE_BIN:-$repo/target/release/otpgate}
[[ -x $otpgate ]] || die "$otpgate missing: cargo build --release"
otpgate=$(realpath "$otpgate")
for tool in python3 redis-server redis-cli curl; do
    command -v "$tool" >/dev/null || die "'$tool' not found"
done

tmp=$(mktemp -d -t otpgate-memory.XXXXXX)
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ ${KEEP_TMP:-0} == 1 ]] || rm -rf "$tmp"
}
trap cleanup EXIT

free_ports() {
    python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])' "$1"
}
read -r up_port gate_port redis_port < <(free_ports 3)

(cd "$tmp" && "$otpgate" gen-cert --host 127.0.0.1 >/dev/null 2>&1) || die "gen-cert failed"
secret=$(openssl rand -hex 32)

# A tiny upstream (never reached by what is measured, but required).
python3 -m http.server "$up_port" --bind 127.0.0.1 >/dev/null 2>&1 &
pids+=($!)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
redis_used() { redis-cli -p "$redis_port" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

# config BACKEND -> path
config() {
    local f=$tmp/otpgate-$1.toml store
    if [[ $1 == redis ]]; then
        store="backend = \"redis\"
redis_url = \"redis://127.0.0.1:$redis_port\""
    else
        store='backend = "memory"'
    fi
    local big='{ max = 100000000, window = "1h" }'
    cat >"$f" <<EOF
[server]
listen = "127.0.0.1:$gate_port"
[tls]
cert = "$tmp/certs/cert.pem"
key = "$tmp/certs/key.pem"
[upstream]
url = "http://127.0.0.1:$up_port"
[[route]]
path = "/checkout"
require = "otp"
[brand]
name = "Memory Bench"
[phone]
default_region = "IN"
allowed_regions = ["IN"]
[session]
secret = "$secret"
[sms]
provider = "console"
[store]
$store
[limits]
send_per_phone = $big
send_per_ip = $big
send_per_prefix = $big
send_per_country = $big
send_per_fingerprint = $big
sms_per_hour = $big
sms_per_day = { max = 100000000, window = "24h" }
[limits.pumping]
enabled = false
[log]
level = "error"
EOF
    echo "$f"
}

# start BACKEND: starts otpgate, sets gate_pid
start() {
    "$otpgate" run -c "$(config "$1")" >/dev/null 2>"$tmp/otpgate-$1.log" &
    gate_pid=$!
    pids+=("$gate_pid")
    local i
    for ((i = 0; i < 100; i++)); do
        curl -sk -o /dev/null --max-time 1 "https://127.0.0.1:$gate_port/.otpgate/login" && return 0
        kill -0 "$gate_pid" 2>/dev/null || { tail "$tmp/otpgate-$1.log" >&2; die "otpgate exited"; }
        sleep 0.1
    done
    die "otpgate did not start"
}

stop() {
    kill -TERM "$gate_pid" 2>/dev/null || true
    wait "$gate_pid" 2>/dev/null || true
}

# drive WHAT FIRST COUNT: fails unless every request answered as expected
drive() {
    local out ok bad
    out=$(python3 "$repo/bench/memory.py" 127.0.0.1 "$gate_port" "$1" "$2" "$3" "$THREADS" "$BODY")
    read -r ok bad _ <<<"$out"
    ((bad == 0)) || die "$1: $bad of $3 requests answered oddly: ${out#* * }"
}

per() { awk -v d="$1" -v n="$2" 'BEGIN { printf "%.0f", d / n }'; }
results=()
say() { echo "$1: $2"; results+=("$1=$2"); }

echo "otpgate memory: $N pending challenges (after $WARM), $HELD held requests of $BODY B; $(date -u +%FT%TZ)"

# --- memory store -------------------------------------------------------------
start memory
drive send 0 "$WARM"
drive held 0 "$((WARM / 4 + 1))"
r0=$(rss_kb "$gate_pid")
drive send "$WARM" "$N"
r1=$(rss_kb "$gate_pid")
drive held "$WARM" "$HELD"
r2=$(rss_kb "$gate_pid")
stop
say memory_challenge_bytes "$(per $(((r1 - r0) * 1024)) "$N")"
say memory_held_bytes "$(per $(((r2 - r1) * 1024)) "$HELD")"

# --- Redis store --------------------------------------------------------------
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
    --dir "$tmp" >/dev/null 2>&1 &
pids+=($!)
for ((i = 0; i < 100; i++)); do redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done
start redis
drive send 0 "$WARM"
# Each counted call leaves an operation key for 10 s (a retry's guard,
# src/store/redis/scripts.rs): measured with them (right after the sends)
# and without (a pending challenge lives minutes, they do not).
settle() { sleep "${OP_SECS:-12}"; }
settle
u0=$(redis_used)
drive send "$WARM" "$N"
u1=$(redis_used)
settle
u1s=$(redis_used)
# MEMORY USAGE of every key, by kind (otpgate:<kind>:...), summed inside
# Redis: keys hold raw id bytes (src/store/redis/keys.rs), which a
# line-based pipe would split.
redis-cli -p "$redis_port" EVAL "
local t = {} local c = '0'
repeat
  local p = redis.call('SCAN', c, 'MATCH', 'otpgate:*', 'COUNT', 1000)
  c = p[1]
  for _, k in ipairs(p[2]) do
    local kind = string.match(k, '^otpgate:([^:]*)') or '?'
    local e = t[kind] or {0, 0}
    e[1] = e[1] + 1
    e[2] = e[2] + redis.call('MEMORY', 'USAGE', k)
    t[kind] = e
  end
until c == '0'
local out = {}
for kind, e in pairs(t) do table.insert(out, kind .. ' ' .. e[1] .. ' ' .. e[2]) end
return out" 0 >"$tmp/usage"
keys=$(awk '{ n += $2 } END { print n + 0 }' "$tmp/usage")
awk -v n="$((WARM + N))" '
    { printf "  %-28s %7d keys %8.1f B per challenge\n", $1, $2, $3 / n; t += $3; k += $2 }
    END { printf "  %-28s %7d keys %8.1f B per challenge\n", "all (MEMORY USAGE)", k, t / n }' \
    "$tmp/usage" | sort >"$tmp/kinds"
usage_total=$(awk -v n="$((WARM + N))" '{ t += $3 } END { printf "%.0f", t / n }' "$tmp/usage")
h0=$(redis_used)
drive held 0 "$HELD"
h1=$(redis_used)
stop
say redis_challenge_bytes "$(per $((u1s - u0)) "$N")"
say redis_challenge_burst_bytes "$(per $((u1 - u0)) "$N")"
say redis_challenge_key_bytes "$usage_total"
say redis_held_bytes "$(per $((h1 - h0)) "$HELD")"
echo "Redis keys after $((WARM + N)) sends ($keys keys), MEMORY USAGE by kind:"
cat "$tmp/kinds"
echo "(held request body: $BODY B; goals: challenge <= 256 B, held <= body + 200 B)"

# --- exact figures ------------------------------------------------------------
if [[ ${EXACT:-1} == 1 ]]; then
    exact() {
        (cd "$repo" && N=$N WARM=$WARM HELD=$HELD BODY=$BODY \
            cargo test --locked --quiet "$@" -- --nocapture 2>/dev/null) |
            grep -E '^[a-z_]+=[0-9]+$' || note "exact: cargo test $* failed"
    }
    echo "Exact (memory store: dhat heap bytes; Redis: a fresh server, the store API):"
    while IFS== read -r k v; do say "exact_$k" "$v"; done < <(
        exact --test memory_per_challenge
        exact --test redis_store memory::
    )
fi

if [[ -n $RESULT ]]; then
    printf '%s\n' "${results[@]}" >"$RESULT"
fi

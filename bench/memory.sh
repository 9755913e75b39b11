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
#   PENDING=1000000   also: RSS with a million pending challenges (wrk)
#   SWEEP_SECS=600 SWEEP_RATE=1000   also: RSS under a steady load, for
#                     the sweep (flat once what a send writes expires)
#   VALUE_SIZES="100 1000 1086 4000"   also: what Redis itself charges per
#                     key for a value of each size (no otpgate involved)
#   SKIP_BASE=1       only those (skips the memory/Redis rows above)
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
read -r up_port gate_port redis_port admin_port < <(free_ports 4)

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
    local w=${WINDOW:-1h}
    local big="{ max = 100000000, window = \"$w\" }"
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
sms_per_day = { max = 100000000, window = "${DAY_WINDOW:-24h}" }
[limits.pumping]
enabled = false
[otp]
ttl = "${OTP_TTL:-5m}"
resend_after = "${RESEND_AFTER:-30s}"
[admin]
listen = "127.0.0.1:$admin_port"
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

# sent: the codes this otpgate has sent (otpgate_otp_sent_total, summed)
sent() {
    curl -s --max-time 5 "http://127.0.0.1:$admin_port/metrics" |
        awk '/^otpgate_otp_sent_total/ { n += $NF } END { printf "%.0f", n }'
}

per() { awk -v d="$1" -v n="$2" 'BEGIN { printf "%.0f", d / n }'; }
results=()
say() { echo "$1: $2"; results+=("$1=$2"); }

echo "otpgate memory: $N pending challenges (after $WARM), $HELD held requests of $BODY B; $(date -u +%FT%TZ)"

if [[ ${SKIP_BASE:-0} != 1 ]]; then
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
fi

# --- a million pending challenges (PENDING=0 skips) ---------------------------
# PENDING sends through wrk (bench/sends.lua: one phone number per send)
# into one otpgate with the memory store; otp.ttl is raised (a warning)
# so that none expires during the run. Reports the process's whole RSS
# with them pending (goal: 10^6 within 300 MB) and its growth per send.
PENDING=${PENDING:-0}
if ((PENDING > 0)); then
    command -v wrk >/dev/null || die "'wrk' not found (PENDING needs it)"
    OTP_TTL=1h start memory
    drive send 0 1000
    p0=$(rss_kb "$gate_pid")
    s0=$(sent)
    started=$(date +%s)
    wrk -t 2 -c 16 -d 1h -s "$repo/bench/sends.lua" "https://127.0.0.1:$gate_port" \
        -- "$(((PENDING + 1) / 2))" 2 1000 >"$tmp/wrk-pending" 2>&1 &
    wrk_pid=$!
    pids+=("$wrk_pid")
    while (($(sent) - s0 < PENDING)); do
        kill -0 "$wrk_pid" 2>/dev/null || { cat "$tmp/wrk-pending" >&2; die "wrk exited early"; }
        sleep 1
    done
    # wrk waits out -d even when every thread is done; SIGINT ends it.
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" 2>/dev/null || true
    took=$(($(date +%s) - started))
    n=$(($(sent) - s0))
    grep -q ' bad=0$' "$tmp/wrk-pending" || { cat "$tmp/wrk-pending" >&2; die "pending: some sends answered oddly"; }
    p1=$(rss_kb "$gate_pid")
    stop
    echo "pending: $n sends in ${took}s; RSS $((p0 / 1024)) MB before, $((p1 / 1024)) MB after"
    say pending_challenges "$n"
    say pending_rss_mb "$((p1 / 1024))"
    say pending_rss_bytes "$(per $(((p1 - p0) * 1024)) "$n")"
fi

# --- the sweep under a steady load (SWEEP_SECS=0 skips) -----------------------
# SWEEP_RATE sends a second for SWEEP_SECS, with otp.ttl 20s and 10-second
# limit windows, sampling RSS every 5 s. What a send writes lives at most
# otp.ttl + 300 s (the delivery record's grace, src/flow/measure.rs) plus
# the sweeper's 30-second tick, so from LIFE (350 s) on, memory should be
# flat: reports RSS at LIFE, the highest RSS after it, and the last.
SWEEP_SECS=${SWEEP_SECS:-0}
SWEEP_RATE=${SWEEP_RATE:-1000}
LIFE=${LIFE:-350}
if ((SWEEP_SECS > 0)); then
    ((SWEEP_SECS > LIFE + 60)) || die "SWEEP_SECS must exceed LIFE ($LIFE s) by a minute"
    OTP_TTL=20s RESEND_AFTER=10s WINDOW=10s DAY_WINDOW=10s start memory
    total=$((SWEEP_RATE * SWEEP_SECS))
    RATE=$SWEEP_RATE python3 "$repo/bench/memory.py" 127.0.0.1 "$gate_port" send 0 "$total" 8 0 \
        >"$tmp/sweep-drive" &
    drive_pid=$!
    pids+=("$drive_pid")
    : >"$tmp/sweep-rss"
    t0=$(date +%s)
    while kill -0 "$drive_pid" 2>/dev/null; do
        echo "$(($(date +%s) - t0)) $(rss_kb "$gate_pid") $(sent)" >>"$tmp/sweep-rss"
        sleep 5
    done
    wait "$drive_pid" || true
    read -r ok bad _ <"$tmp/sweep-drive"
    ((bad == 0)) || die "sweep: $bad of $total sends answered oddly: $(cat "$tmp/sweep-drive")"
    stop
    took=$(($(tail -1 "$tmp/sweep-rss" | cut -d' ' -f1)))
    echo "sweep: $ok sends in about ${took}s ($((ok / (took > 0 ? took : 1))) a second); RSS (s, kB, sent):"
    awk '{ printf "  %4d s %8d kB %8d\n", $1, $2, $3 }' "$tmp/sweep-rss"
    read -r at_life after_max last < <(awk -v life="$LIFE" '
        $1 >= life && !a { a = $2 } $1 >= life && $2 > m { m = $2 } { l = $2 }
        END { print a + 0, m + 0, l + 0 }' "$tmp/sweep-rss")
    say sweep_rss_at_life_kb "$at_life"
    say sweep_rss_max_after_kb "$after_max"
    say sweep_rss_last_kb "$last"
    say sweep_growth_pct "$(awk -v a="$at_life" -v m="$after_max" 'BEGIN { printf "%.1f", (m - a) * 100 / a }')"
fi

# --- what Redis itself charges for a value (VALUE_SIZES="" skips) -----------
# Not otpgate: 5,000 plain keys of each size on a fresh redis-server (the
# name a held request's key has, a TTL like it), `used_memory` per key
# minus the value. Shows the floor any one-key-per-held-request layout
# pays, and jemalloc's size classes (a 1,086-byte value is given 1,280).
VALUE_SIZES=${VALUE_SIZES-}
if [[ -n $VALUE_SIZES ]]; then
    vport=$(free_ports 1)
    redis-server --bind 127.0.0.1 --port "$vport" --save '' --appendonly no \
        --dir "$tmp" >/dev/null 2>&1 &
    pids+=($!)
    for ((i = 0; i < 100; i++)); do redis-cli -p "$vport" PING 2>/dev/null | grep -q PONG && break; sleep 0.05; done
    vused() { redis-cli -p "$vport" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }
    echo "Redis's own cost of a key holding a value (5,000 keys each):"
    for size in $VALUE_SIZES; do
        redis-cli -p "$vport" FLUSHALL >/dev/null
        v0=$(vused)
        redis-cli -p "$vport" EVAL "for i = 1, 5000 do
            redis.call('SET', 'otpgate:h:' .. string.format('%016d', i), string.rep('x', tonumber(ARGV[1])), 'PX', 600000)
          end" 0 "$size" >/dev/null
        v1=$(vused)
        each=$(((v1 - v0) / 5000))
        printf '  value %6d B: %6d B a key, %5d B over the value\n' "$size" "$each" "$((each - size))"
        say "redis_value_${size}_overhead_bytes" "$((each - size))"
    done
fi

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

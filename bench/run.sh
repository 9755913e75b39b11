#!/usr/bin/env bash
# otpgate vs nginx: TLS reverse-proxy benchmark.
#
# Starts one small plain-HTTP upstream (a separate nginx on loopback), then
# nginx as a TLS reverse proxy and otpgate in front of that same upstream, and
# drives each with wrk in the same run. Prints requests/s, p50, p99 and CPU
# per request for every target, and the otpgate/nginx ratios.
#
# Run from anywhere:  bench/run.sh        (see bench/README.md for the knobs)
#   DURATION=10s CONNECTIONS=64 THREADS=2 WARMUP=3s ROUNDS=1 PIN=0
#   OTPGATE_BIN=path/to/otpgate  NGINX_WORKERS=<n>  UPSTREAM_WORKERS=1
#   SECS=8 (new connections, HTTP/2)  IDLE=10000  MEMORY=1  MEM_N=40000  MEM_WARM=20000
#   CERT_KEY=p256|p384|ed25519|rsa2048 (both servers' certificate; default: otpgate gen-cert, P-256)
# The rows beyond keep-alive throughput (Redis store, new connections,
# HTTP/2, idle connections, memory) are bench/rows.sh.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
ROUNDS=${ROUNDS:-1}
PIN=${PIN:-0}
UPSTREAM_WORKERS=${UPSTREAM_WORKERS:-1}
IDLE=${IDLE:-10000}
# 10,000 idle connections need as many descriptors, in each proxy and here.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PHONE=${PHONE:-+919812345678}
COOKIE_NAME=__Host-otpgate

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

for tool in nginx wrk curl python3 openssl; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install -y nginx wrk curl openssl python3)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

# --- the gateway binary ------------------------------------------------------
if [[ -n ${OTPGATE_BIN:-} ]]; then
    [[ -x $OTPGATE_BIN ]] || die "OTPGATE_BIN=$OTPGATE_BIN is not an executable"
    otpgate=$(cd "$(dirname "$OTPGATE_BIN")" && pwd)/$(basename "$OTPGATE_BIN")
else
    otpgate=$repo/target/release/otpgate
    if [[ ! -x $otpgate ]]; then
        note "target/release/otpgate missing: cargo build --release"
        cargo build --release
    fi
fi

# --- CPU placement -----------------------------------------------------------
ncpu=$(nproc)
proxy_run=()   # command prefix for the proxies under test
load_run=()    # command prefix for wrk and the upstream
if [[ $PIN == 1 ]]; then
    command -v taskset >/dev/null || die "PIN=1 needs taskset (util-linux)"
    ((ncpu >= 2)) || die "PIN=1 needs at least 2 CPUs"
    proxy_cpus=0
    load_cpus=1
    ((ncpu > 2)) && load_cpus=1-$((ncpu - 1))
    proxy_run=(taskset -c "$proxy_cpus")
    load_run=(taskset -c "$load_cpus")
    proxy_ncpu=1
    placement="pinned: proxies on cpu $proxy_cpus, wrk + upstream on cpu $load_cpus"
else
    proxy_ncpu=$ncpu
    placement="unpinned: proxies, wrk and upstream share all $ncpu cpus"
fi
NGINX_WORKERS=${NGINX_WORKERS:-$proxy_ncpu}

# --- scratch dir and cleanup -------------------------------------------------
tmp=$(mktemp -d -t otpgate-bench.XXXXXX)
chmod 755 "$tmp"   # nginx workers may run as 'nobody'
pids=()
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then note "kept $tmp"; else rm -rf "$tmp"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free loopback ports, all bound at once so they are distinct.
read -r up_port nginx_port gate_port admin_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
for s in ss: s.close()')

# wait_http URL PID NAME LOG: poll until URL answers (any HTTP status)
wait_http() {
    local url=$1 pid=$2 name=$3 log=$4 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            note "$name exited during start-up; its log:"
            tail -n 30 "$log" >&2 || true
            exit 1
        fi
        if curl -sk -o /dev/null --max-time 1 "$url"; then return 0; fi
        sleep 0.1
    done
    note "$name did not answer $url within 10s; its log:"
    tail -n 30 "$log" >&2 || true
    exit 1
}

# --- certificate and secret --------------------------------------------------
mkdir -p "$tmp/gen"
cert_key() { # CERT_KEY -> openssl req -newkey arguments
    case $1 in
    p256) echo "ec -pkeyopt ec_paramgen_curve:prime256v1" ;;
    p384) echo "ec -pkeyopt ec_paramgen_curve:secp384r1" ;;
    ed25519) echo "ed25519" ;;
    rsa2048) echo "rsa:2048" ;;
    *) die "CERT_KEY=$1: one of p256, p384, ed25519, rsa2048" ;;
    esac
}
openssl_cert() {
    cert=$tmp/cert.pem key=$tmp/key.pem
    # shellcheck disable=SC2046 # the key type's words
    openssl req -x509 -newkey $(cert_key "$1") -nodes -days 2 \
        -subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$key" -out "$cert" 2>/dev/null || die "openssl could not make a $1 certificate"
    cert_from="openssl ($1)"
}
if [[ -n ${CERT_KEY:-} ]]; then
    openssl_cert "$CERT_KEY"
elif (cd "$tmp/gen" && "$otpgate" gen-cert --host 127.0.0.1 --host localhost) >"$tmp/gen-cert.log" 2>&1 &&
    [[ -s $tmp/gen/certs/cert.pem && -s $tmp/gen/certs/key.pem ]]; then
    cert=$tmp/gen/certs/cert.pem key=$tmp/gen/certs/key.pem
    cert_from="otpgate gen-cert"
else
    note "otpgate gen-cert gave no certs/cert.pem + certs/key.pem ($(tail -n 1 "$tmp/gen-cert.log" | cut -c1-120)); using openssl"
    openssl_cert p256
fi
chmod 644 "$cert" "$key"

secret=$("$otpgate" gen-secret 2>/dev/null | awk 'NF { w = $NF } END { print w }') || secret=
if [[ ! $secret =~ ^[0-9A-Za-z+/=_-]{40,}$ ]]; then
    note "otpgate gen-secret gave no usable secret; using openssl rand -hex 32"
    secret=$(openssl rand -hex 32)
fi

# --- upstream: plain HTTP nginx on loopback ----------------------------------
mkdir -p "$tmp/upstream"
cat >"$tmp/upstream/nginx.conf" <<EOF
worker_processes $UPSTREAM_WORKERS;
worker_rlimit_nofile 65536;
pid $tmp/upstream/nginx.pid;
error_log $tmp/upstream/error.log warn;
events { worker_connections 32768; }
http {
    access_log off;
    client_body_temp_path $tmp/upstream/body;
    proxy_temp_path $tmp/upstream/proxy;
    fastcgi_temp_path $tmp/upstream/fastcgi;
    uwsgi_temp_path $tmp/upstream/uwsgi;
    scgi_temp_path $tmp/upstream/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$up_port;
        default_type text/plain;
        location / { return 200 "hello from the shop\n"; }
    }
}
EOF
"${load_run[@]}" nginx -p "$tmp/upstream" -c "$tmp/upstream/nginx.conf" \
    -e stderr -g 'daemon off;' 2>>"$tmp/upstream/error.log" &
upstream_pid=$!
pids+=("$upstream_pid")
wait_http "http://127.0.0.1:$up_port/" "$upstream_pid" "upstream nginx" "$tmp/upstream/error.log"

# --- nginx as TLS reverse proxy ----------------------------------------------
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
worker_rlimit_nofile 65536;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 32768; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    # nginx closes a client connection after 1000 requests by default, which
    # would charge it a TLS handshake per 1000 requests; hyper has no such cap.
    keepalive_requests 1000000;
    keepalive_timeout 300s;

    upstream shop {
        server 127.0.0.1:$up_port;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$nginx_port ssl http2;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://shop;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # the same work otpgate does on every forwarded request
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Request-Id \$request_id;
        }
    }
}
EOF
"${proxy_run[@]}" nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
    -e stderr -g 'daemon off;' 2>>"$tmp/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")
wait_http "https://127.0.0.1:$nginx_port/" "$nginx_pid" "nginx proxy" "$tmp/nginx/error.log"

# --- otpgate -----------------------------------------------------------------
cat >"$tmp/otpgate.toml" <<EOF
[server]
listen = "127.0.0.1:$gate_port"
workers = $NGINX_WORKERS               # same number of worker threads as nginx worker processes
max_connections = 30000                # the idle-connections row opens $IDLE from one IP
max_connections_per_ip = 30000
idle_timeout = "600s"

[tls]
cert = "$cert"
key  = "$key"

[upstream]
url = "http://127.0.0.1:$up_port"

[[route]]
path = "/checkout"
require = "otp"
max_age = "15m"

[brand]
name = "Bench Shop"

[phone]
default_region = "IN"
allowed_regions = ["IN"]

[session]
secret = "$secret"
cookie_name = "$COOKIE_NAME"

[sms]
provider = "file"

[sms.file]
path = "$tmp/sms.jsonl"

[store]
backend = "memory"

[admin]
listen = "127.0.0.1:$admin_port"
EOF
# Quiet logs: one access line per request would otherwise dominate the profile.
# [log] is otpgate's own addition to the SPEC's keys: dropped if this build rejects it.
cp "$tmp/otpgate.toml" "$tmp/otpgate-base.toml"
printf '\n[log]\nlevel = "warn"\n' >>"$tmp/otpgate.toml"
if ! "$otpgate" check-config -c "$tmp/otpgate.toml" >"$tmp/check-config.log" 2>&1; then
    cp "$tmp/otpgate-base.toml" "$tmp/otpgate.toml"
    "$otpgate" check-config -c "$tmp/otpgate.toml" >"$tmp/check-config.log" 2>&1 || {
        note "otpgate check-config rejects the generated config:"
        cat "$tmp/check-config.log" >&2
        exit 1
    }
fi
# RUST_LOG too, in case [log] was dropped; stderr goes to a file in any case.
RUST_LOG=warn OTPGATE_LOG=warn "${proxy_run[@]}" "$otpgate" run -c "$tmp/otpgate.toml" \
    >"$tmp/otpgate.out" 2>"$tmp/otpgate.log" &
gate_pid=$!
pids+=("$gate_pid")
wait_http "https://127.0.0.1:$gate_port/" "$gate_pid" "otpgate" "$tmp/otpgate.log"

# --- CPU accounting ----------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# pid_tree PID: PID and its direct children (nginx master + workers)
pid_tree() {
    local root=$1 f stat rest
    echo "$root"
    for f in /proc/[0-9]*/stat; do
        read -r stat <"$f" 2>/dev/null || continue
        rest=${stat##*) }
        read -r _ ppid _ <<<"$rest"
        [[ $ppid == "$root" ]] && echo "${stat%% *}"
    done
    return 0
}

# cpu_ticks PID...: summed utime+stime (all threads) in clock ticks
cpu_ticks() {
    local total=0 p stat rest fields
    for p in "$@"; do
        read -r stat <"/proc/$p/stat" 2>/dev/null || continue
        rest=${stat##*) }
        read -r -a fields <<<"$rest"
        # fields[0] is stat field 3 (state); utime = field 14, stime = field 15
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# both arrays are read through run_wrk's nameref
# shellcheck disable=SC2034
{
    mapfile -t nginx_pids < <(pid_tree "$nginx_pid")
    gate_pids=("$gate_pid")
}
mapfile -t upstream_pids < <(pid_tree "$upstream_pid")

# busy_ticks: user+nice+system of the whole machine (irq/softirq left out:
# loopback networking lands there and belongs to the benchmark)
busy_ticks() {
    local _c u n s
    read -r _c u n s _ </proc/stat
    echo $((u + n + s))
}

# child_ticks: CPU of this shell's finished children (wrk), from `times`.
# It must run in this shell, not in a $(...) subshell.
child_ticks_to() {
    times >"$1"
}
ticks_of_times() {
    tail -n 1 "$1" | awk -v hz="$clk_tck" '{
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
        printf "%d", t * hz + 0.5 }'
}

# --- wrk driver --------------------------------------------------------------
# to_ms "1.23ms" -> 1.230
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.3f", n }'
}

# run_wrk NAME URL PIDS-VAR [wrk args...] -> appends a result line to $tmp/NAME.results:
#   rps p50_ms p99_ms cpu_us_per_req cpu_percent requests errors other_percent
# other_percent: CPU used meanwhile by processes outside the benchmark.
run_wrk() {
    local name=$1 url=$2 pidvar=$3
    shift 3
    local -n pidarr=$pidvar
    local out=$tmp/wrk-$name.txt t0 t1 c0 c1 u0 u1 b0 b1 w0 w1
    c0=$(cpu_ticks "${pidarr[@]}")
    u0=$(cpu_ticks "${upstream_pids[@]}")
    child_ticks_to "$tmp/times0"
    b0=$(busy_ticks)
    t0=$(date +%s%N)
    "${load_run[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1 ||
        { note "wrk failed against $name:"; cat "$out" >&2; return 1; }
    t1=$(date +%s%N)
    b1=$(busy_ticks)
    child_ticks_to "$tmp/times1"
    c1=$(cpu_ticks "${pidarr[@]}")
    u1=$(cpu_ticks "${upstream_pids[@]}")
    w0=$(ticks_of_times "$tmp/times0")
    w1=$(ticks_of_times "$tmp/times1")
    local rps p50 p99 reqs non2xx sockerr
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    reqs=$(awk '/requests in/ { print $1 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    sockerr=$(awk '/Socket errors:/ { s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s }' "$out")
    if [[ -z $rps || -z $reqs || -z $p50 || -z $p99 ]]; then
        note "could not parse wrk output for $name:"
        cat "$out" >&2
        return 1
    fi
    awk -v rps="$rps" -v p50="$(to_ms "$p50")" -v p99="$(to_ms "$p99")" -v reqs="$reqs" \
        -v ticks="$((c1 - c0))" -v hz="$clk_tck" -v ns="$((t1 - t0))" \
        -v errs="$((${non2xx:-0} + ${sockerr:-0}))" \
        -v other="$((b1 - b0 - (c1 - c0) - (u1 - u0) - (w1 - w0)))" 'BEGIN {
            cpu_s = ticks / hz; wall = ns / 1e9
            o = other * 100 / hz / wall; if (o < 0) o = 0
            printf "%s %s %s %.1f %.0f %s %s %.0f\n", rps, p50, p99,
                (reqs > 0 ? cpu_s * 1e6 / reqs : 0), cpu_s * 100 / wall, reqs, errs, o
        }' >>"$tmp/$name.results"
    if ((${non2xx:-0} + ${sockerr:-0} > 0)); then
        note "$name: ${non2xx:-0} non-2xx/3xx responses, ${sockerr:-0} socket errors (see below)"
        grep -E 'Non-2xx|Socket errors' "$out" >&2 || true
    fi
}

# --- a valid session cookie, via the real OTP flow ----------------------------
# get_cookie: prints the session cookie value, or a reason on stderr and fails.
scrape_csrf() {
    python3 - "$1" <<'PY'
import html, re, sys
s = open(sys.argv[1], encoding="utf-8", errors="replace").read()
for tag in re.findall(r"<input\b[^>]*>", s, re.I):
    if re.search(r"""\bname\s*=\s*["']?csrf(?=["'\s/>])""", tag, re.I):
        m = re.search(r"""\bvalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", tag, re.I)
        if m:
            print(html.unescape(next(g for g in m.groups() if g is not None)))
            sys.exit(0)
sys.exit(1)
PY
}

get_cookie() {
    local base="https://127.0.0.1:${flow_port:-$gate_port}" jar=$tmp/flow-${flow_port:-$gate_port}.jar
    local d=$tmp/flow code status csrf
    # behave like a browser: cookie jar, Accept: text/html, Origin on form posts
    local curl_=(curl -sk --max-time 5 -b "$jar" -c "$jar" -H 'Accept: text/html,*/*;q=0.8')
    local post=(-H "Origin: $base")
    mkdir -p "$d"

    status=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' -H 'Accept: application/json' "$base/checkout") ||
        { echo "GET /checkout failed" >&2; return 1; }
    [[ $status == 401 || $status == 302 ]] ||
        { echo "/checkout without a session answered $status, not 401/302 (OTP flow not in place?)" >&2; return 1; }

    status=$("${curl_[@]}" -o "$d/login.html" -w '%{http_code}' "$base/.otpgate/login?rd=/checkout") ||
        { echo "GET /.otpgate/login failed" >&2; return 1; }
    [[ $status == 200 ]] || { echo "GET /.otpgate/login answered $status" >&2; return 1; }
    csrf=$(scrape_csrf "$d/login.html") || { echo "no csrf field on the login page" >&2; return 1; }

    : >>"$tmp/sms.jsonl"
    local before
    before=$(wc -l <"$tmp/sms.jsonl")
    status=$("${curl_[@]}" "${post[@]}" -o "$d/send.html" -w '%{http_code}' \
        --data-urlencode "phone=$PHONE" --data-urlencode "csrf=$csrf" --data-urlencode "rd=/checkout" \
        "$base/.otpgate/send") || { echo "POST /.otpgate/send failed" >&2; return 1; }
    [[ $status == 303 || $status == 302 || $status == 200 ]] ||
        { echo "POST /.otpgate/send answered $status" >&2; return 1; }

    local i
    for ((i = 0; i < 50; i++)); do
        (($(wc -l <"$tmp/sms.jsonl") > before)) && break
        sleep 0.1
    done
    code=$(tail -n 1 "$tmp/sms.jsonl" | python3 -c '
import json, re, sys
m = json.loads(sys.stdin.read())
c = re.search(r"(?<!\d)\d{6}(?!\d)", m["body"])
sys.exit(1) if c is None else print(c.group(0))' 2>/dev/null) ||
        { echo "no code in the file provider's output ($tmp/sms.jsonl)" >&2; return 1; }

    status=$("${curl_[@]}" -o "$d/verify.html" -w '%{http_code}' "$base/.otpgate/verify") ||
        { echo "GET /.otpgate/verify failed" >&2; return 1; }
    [[ $status == 200 ]] || { echo "GET /.otpgate/verify answered $status" >&2; return 1; }
    csrf=$(scrape_csrf "$d/verify.html") || { echo "no csrf field on the verify page" >&2; return 1; }

    status=$("${curl_[@]}" "${post[@]}" -D "$d/verify.h" -o /dev/null -w '%{http_code}' \
        --data-urlencode "code=$code" --data-urlencode "csrf=$csrf" "$base/.otpgate/verify") ||
        { echo "POST /.otpgate/verify failed" >&2; return 1; }
    local cookie
    cookie=$(tr -d '\r' <"$d/verify.h" |
        sed -n "s/^[Ss]et-[Cc]ookie: *$COOKIE_NAME=\([^;]*\).*/\1/p" | tail -n 1)
    [[ -n $cookie ]] || { echo "POST /.otpgate/verify answered $status without a $COOKIE_NAME cookie" >&2; return 1; }

    status=$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE_NAME=$cookie" "$base/checkout") ||
        { echo "GET /checkout with the cookie failed" >&2; return 1; }
    [[ $status == 200 ]] || { echo "/checkout with the session cookie answered $status" >&2; return 1; }
    echo "$cookie"
}

# --- run -----------------------------------------------------------------------
tls_of() {
    openssl s_client -brief -connect "127.0.0.1:$1" </dev/null 2>&1 |
        awk -F': ' '/^Protocol version/ { p = $2 } /^Ciphersuite/ { c = $2 } END { print p " " c }'
}

echo "otpgate bench: $(date -u +%FT%TZ), $(nproc) cpus ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $placement"
echo "  wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s), warm-up $WARMUP; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') with $NGINX_WORKERS worker(s), otpgate with as many worker threads"
echo "  otpgate: $otpgate; cert: $cert_from"
echo "  TLS  nginx: $(tls_of "$nginx_port")   otpgate: $(tls_of "$gate_port")"

note "warm-up ($WARMUP each)"
for port in "$nginx_port" "$gate_port"; do
    "${load_run[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "https://127.0.0.1:$port/" >/dev/null 2>&1 || true
done

# shellcheck source=bench/rows.sh
source "$repo/bench/rows.sh"
start_redis_gateway
if [[ -z $redis_skip ]]; then
    redis_cookie=$(flow_port=$gate_redis_port get_cookie 2>"$tmp/cookie-redis.err") ||
        redis_skip=$(tail -n 1 "$tmp/cookie-redis.err")
    for ((i = 0; i < 2; i++)); do
        "${load_run[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "https://127.0.0.1:$gate_redis_port/" >/dev/null 2>&1 || true
    done
fi

protected_skip=
if cookie=$(get_cookie 2>"$tmp/cookie.err"); then
    note "obtained a session cookie through the OTP flow"
else
    protected_skip=$(tail -n 1 "$tmp/cookie.err")
    protected_skip=${protected_skip:-unknown error}
    note "protected row skipped: $protected_skip"
fi

for ((r = 1; r <= ROUNDS; r++)); do
    order=(nginx otpgate)
    ((r % 2 == 0)) && order=(otpgate nginx)
    for t in "${order[@]}"; do
        note "round $r/$ROUNDS: $t"
        case $t in
        nginx) run_wrk nginx "https://127.0.0.1:$nginx_port/" nginx_pids ;;
        otpgate) run_wrk otpgate "https://127.0.0.1:$gate_port/" gate_pids ;;
        esac
    done
    if [[ -z $protected_skip ]]; then
        note "round $r/$ROUNDS: otpgate protected"
        run_wrk protected "https://127.0.0.1:$gate_port/checkout" gate_pids \
            -H "Cookie: $COOKIE_NAME=$cookie" || protected_skip="wrk run failed"
    fi
done

# median round by requests/s
median() {
    sort -n -k1,1 "$tmp/$1.results" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'
}

run_extra_rows

echo
printf '%-34s %10s %9s %9s %12s %7s %7s %8s\n' target "req/s" "p50 ms" "p99 ms" "CPU us/req" "CPU %" errors "other %"
printf '%-34s %10s %9s %9s %12s %7s %7s %8s\n' "----------------------------------" ---------- --------- --------- ------------ ------- ------- --------
noisy=0
row() {
    local label=$1 rps p50 p99 cpu pct reqs errs other
    read -r rps p50 p99 cpu pct reqs errs other <<<"$2"
    printf '%-34s %10.0f %9s %9s %12s %7s %7s %8s\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$pct" "$errs" "$other"
    ((other <= 15)) || noisy=1
}
n=$(median nginx)
g=$(median otpgate)
row "nginx (TLS proxy)" "$n"
row "otpgate pass-through" "$g"
if [[ -z $protected_skip ]]; then
    p=$(median protected)
    row "otpgate protected, valid cookie" "$p"
else
    printf '%-34s skipped: %s\n' "otpgate protected, valid cookie" "$protected_skip"
fi

echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
read -r n_rps _ _ n_cpu _ <<<"$n"
read -r g_rps _ _ g_cpu _ <<<"$g"
echo "otpgate/nginx throughput:     $(ratio "$g_rps" "$n_rps")   (done: >= 1.00x, target 1.30x)"
echo "otpgate/nginx CPU per request: $(ratio "$g_cpu" "$n_cpu")   (target <= 0.70x)"
if [[ -z $protected_skip ]]; then
    read -r p_rps _ <<<"$p"
    echo "protected/pass-through:        $(ratio "$p_rps" "$g_rps")   (done: >= 0.95x)"
else
    echo "protected/pass-through:        skipped"
fi
print_extra_rows
if ((ROUNDS > 1)); then
    echo
    echo "each row is the median round by req/s (the lower middle one for an even count); all rounds (req/s p50 p99 cpu_us/req cpu% requests errors other%):"
    for t in nginx otpgate protected; do
        [[ -s $tmp/$t.results ]] && sed "s/^/  $t: /" "$tmp/$t.results"
    done
fi
if ((noisy)); then
    echo
    echo "warning: other processes used > 15% of a cpu during a run (column 'other %'): these figures are disturbed; rerun on a quiet machine."
fi
if [[ $PIN != 1 ]]; then
    echo
    echo "note: unpinned, wrk and the upstream compete with the proxy for the same cpus; PIN=1 gives steadier numbers."
fi

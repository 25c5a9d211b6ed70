#!/usr/bin/env bash
# Dock offload benchmark: how fast does the camera's dock API (`bodycam run`, docked,
# mutual TLS) hand its store to a dock, against nginx serving the same files over the
# same kind of connection? And how long would a full 12-hour store take over the USB 2.0
# gadget link?
#
#   A  the daemon's dock API: GET /v1/recordings/{id}/segments/{seq}/media for every
#      closed segment, in order;
#   B  nginx (foreground, private config: TLS 1.3 only, the camera's server certificate
#      and key, `ssl_verify_client on` with the same CA, `sendfile on`) serving the same
#      .ts files under the same URL paths.
#   Both are fetched by one curl process per pass: one connection, HTTP/1.1, sequential,
#   `--cacert ca.pem --cert dock.pem --key dock.key`, bodies to /dev/null, over loopback.
#   Rounds are interleaved (A B, B A, A B, ...) so that both share the machine's load;
#   throughput = bytes of media / wall time of the curl process (TLS handshake and
#   process start included, a few ms). Page cache warm for both (files read once first,
#   then one untimed pass against each server).
#
# Usage:
#   benches/offload.sh [OPTIONS]
#     --rounds N       interleaved rounds of A and B                        (default 15)
#     --minutes M      footage written by examples/make_store              (default 10)
#     --kbps K         its bitrate, kbit/s: the Pi config's camera.bitrate_kbps (default 6000)
#     --record S       instead of make_store, record S seconds with the simulated camera
#                      (1280x720@30, pattern "snow", --kbps, AAC, 60 s segments)
#     --link-mbps R    dock link throughput, MB/s (USB 2.0 gadget: default 35)
#     --hours H        store to offload, hours of footage                   (default 12)
#     --port P         A listens on P, nginx on P+1, Azurite on P+2         (default 18443)
#     --out DIR        write results.tsv, summary.md, configs and logs into DIR
#     --no-build       do not run cargo (use $BODYCAM or target/release/bodycam as it is)
#     --no-agent       skip the optional dock-agent stage
#     --keep           keep the temporary directory (store, PKI, logs) and print its path
#   Environment:
#     BODYCAM=path       bodycam binary (default <repo>/target/release/bodycam)
#     MAKE_STORE=path    make_store example (default <repo>/target/release/examples/make_store)
#     AZURITE_BLOB=path  azurite-blob launcher for the agent stage (default: the one
#                        scripts/setup.sh installs, <repo>/scripts/azurite/node_modules/.bin/)
#   Needs: curl, jq, awk, ss (iproute2); nginx is installed with apt-get when missing
#   (root or sudo).
#
# Optional stage (only when `bodycam dock-agent --help` succeeds and Azurite is present):
# one timed `bodycam dock-agent --config AGENT.toml --once` offload of the same store into
# Azurite (in-memory), after the A/B rounds. Its failure is reported, not fatal.
#
# Nothing is asserted: the script measures and prints a table (and writes it to --out).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

rounds=15
minutes=10
kbps=6000
record_s=0
link_mbps=35
hours=12
port=18443
out=""
build=1
agent=1
keep=0

die() {
    echo "offload.sh: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
usage() {
    sed -n '/^# Usage:/,/^#   Needs:/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
    case $1 in
        --rounds) rounds=${2:?}; shift 2 ;;
        --minutes) minutes=${2:?}; shift 2 ;;
        --kbps) kbps=${2:?}; shift 2 ;;
        --record) record_s=${2:?}; shift 2 ;;
        --link-mbps) link_mbps=${2:?}; shift 2 ;;
        --hours) hours=${2:?}; shift 2 ;;
        --port) port=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-agent) agent=0; shift ;;
        --keep) keep=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
for v in rounds minutes kbps record_s port; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "--${v%_s} must be a non-negative integer"
done
[[ $link_mbps =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--link-mbps must be a number"
[[ $hours =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--hours must be a number"
((rounds >= 1)) || die "--rounds must be >= 1"
((record_s > 0 || minutes >= 1)) || die "--minutes must be >= 1"
((kbps >= 100 && kbps <= 50000)) || die "--kbps must be 100..50000 (camera.bitrate_kbps range)"
((record_s == 0 || record_s >= 10)) || die "--record needs at least 10 seconds"

bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
make_store=${MAKE_STORE:-"$repo/target/release/examples/make_store"}
azurite_blob=${AZURITE_BLOB:-"$repo/scripts/azurite/node_modules/.bin/azurite-blob"}
port_a=$port
port_b=$((port + 1))
port_az=$((port + 2))

for tool in curl jq awk ss; do
    command -v "$tool" >/dev/null || die "$tool missing (apt-get install curl jq gawk iproute2)"
done

# ---------- build, nginx ----------

if ((build)); then
    log "cargo build --release"
    (cd "$repo" && cargo build --release --quiet --bin bodycam --example make_store)
fi
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
((record_s > 0)) || [[ -x $make_store ]] || die "no make_store at $make_store (cargo build --release --example make_store)"

as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root or sudo for: $*"
    fi
}

nginx=$(command -v nginx || true)
[[ -n $nginx ]] || { [[ -x /usr/sbin/nginx ]] && nginx=/usr/sbin/nginx; } || true
if [[ -z $nginx ]]; then
    log "installing nginx"
    service_pid_before=$(cat /run/nginx.pid 2>/dev/null || true)
    install=(apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends nginx)
    as_root "${install[@]}" >&2 || { as_root apt-get update >&2 && as_root "${install[@]}" >&2; }
    nginx=/usr/sbin/nginx
    [[ -x $nginx ]] || die "nginx still missing after apt-get install"
    # Without systemd, the package's postinst starts the system nginx (port 80) through
    # its init script: stop that instance again (ours runs with a private config).
    service_pid=$(cat /run/nginx.pid 2>/dev/null || true)
    if [[ -n $service_pid && $service_pid != "$service_pid_before" ]] &&
        [[ $(cat "/proc/$service_pid/comm" 2>/dev/null || true) == nginx ]]; then
        log "stopping the system nginx (pid $service_pid) that the package started"
        as_root kill -QUIT "$service_pid" || true
    fi
fi

for p in "$port_a" "$port_b"; do
    if ss -Hltn "sport = :$p" | grep -q .; then
        die "port $p is in use (choose another base with --port)"
    fi
done

# ---------- temporary directory, cleanup ----------

# Short path: the ctl socket's sun_path is limited to 108 bytes.
work=$(mktemp -d /tmp/offload-bench.XXXXXX)
daemon_pid=""
nginx_pid=""
azurite_pid=""
stop_pid() { # PID SIGNAL: signal, wait up to 10 s, then SIGKILL
    local pid=$1 sig=$2 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
        : "$i"
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop_pid "$azurite_pid" TERM
    stop_pid "$nginx_pid" QUIT
    stop_pid "$daemon_pid" TERM
    if [[ -n $out && -d $work ]]; then
        cp "$work"/*.toml "$work"/*.conf "$work"/*.log "$out"/ 2>/dev/null || true
    fi
    if ((keep)); then
        echo "kept $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n $out ]]; then
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
fi

# ---------- helpers ----------

now() { date +%s.%N; }

# user+system CPU seconds of the processes given (all their threads), from /proc.
cpu_of() {
    local pid total=0 ticks
    ticks=$(getconf CLK_TCK)
    for pid in "$@"; do
        [[ -r /proc/$pid/stat ]] || continue
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat")))
    done
    awk -v t="$total" -v h="$ticks" 'BEGIN { printf "%.3f", t / h }'
}

# user+system CPU seconds of this shell's reaped children (curl, via its subshell).
children_cpu() {
    awk -v h="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.3f", ($14 + $15) / h }' "/proc/$$/stat"
}

# Busy and total jiffies of the whole machine, from /proc/stat.
cpu_jiffies() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ctl() { "$bodycam" ctl --config "$work/camera.toml" "$@"; }
state() { ctl status --json 2>/dev/null | jq -r .state 2>/dev/null || true; }
wait_state() { # STATE TIMEOUT_S
    local deadline=$(($(date +%s) + $2))
    until [[ $(state) == "$1" ]]; do
        kill -0 "$daemon_pid" 2>/dev/null || { tail -20 "$work/daemon.log" >&2; die "daemon exited"; }
        (($(date +%s) < deadline)) || { tail -20 "$work/daemon.log" >&2; die "daemon not $1 after $2 s (state: $(state))"; }
        sleep 0.1
    done
}

pki=$work/pki
tls_args=(--cacert "$pki/ca.pem" --cert "$pki/dock.pem" --key "$pki/dock.key")
dock_curl() { curl -sS --http1.1 --fail --max-time 600 "${tls_args[@]}" "$@"; }
wait_https() { # PORT TIMEOUT_S PATH
    local deadline=$(($(date +%s) + $2))
    until dock_curl -o /dev/null "https://127.0.0.1:$1$3" 2>/dev/null; do
        (($(date +%s) < deadline)) || die "nothing answers https://127.0.0.1:$1$3 after $2 s"
        sleep 0.1
    done
}

# ---------- the store, the camera daemon ----------

machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(sed -n 's/^PRETTY_NAME="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' /etc/os-release), kernel $(uname -r)"
# Read-only git queries (no index refresh, so a concurrent git in the tree is not disturbed).
commit=$(GIT_OPTIONAL_LOCKS=0 git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(GIT_OPTIONAL_LOCKS=0 git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null || true) ]]; then
    commit="$commit + uncommitted changes"
fi
started=$(date -u +%Y-%m-%dT%H:%MZ)
log "machine: $machine; load $(cut -d' ' -f1-3 /proc/loadavg); commit $commit"

"$bodycam" pki dev "$pki" >/dev/null
store=$work/store
if ((record_s > 0)); then
    camera="width = 1280
height = 720
framerate = 30
bitrate_kbps = $kbps
pattern = \"snow\""
    audio="enabled = true"
    source="simulated camera, ${record_s} s recorded, 1280x720@30 snow, $kbps kbit/s + AAC"
else
    # The daemon only serves here: a tiny capture, stopped anyway once docked.
    camera="width = 160
height = 120
framerate = 15
bitrate_kbps = 300"
    audio="enabled = false"
    log "make_store: $minutes min at $kbps kbit/s"
    ms_out=$("$make_store" "$store" "$minutes" "$kbps")
    echo "$ms_out" >"$work/make_store.log"
    source="examples/make_store, $minutes min of synthetic $kbps kbit/s footage through the real store and evidence code"
fi
cat >"$work/camera.toml" <<EOF
[camera]
source = "simulated"
encoder = "x264"
$camera
[audio]
$audio
[recording]
segment_seconds = 60
pre_event_seconds = 0
[storage]
path = "$store"
[ctl]
socket = "$work/ctl.sock"
[dock]
listen = "127.0.0.1:$port_a"
ca = "$pki/ca.pem"
cert = "$pki/camera.pem"
key = "$pki/camera.key"
EOF

log "starting the camera daemon"
BODYCAM_LOG=info "$bodycam" run --config "$work/camera.toml" >/dev/null 2>"$work/daemon.log" &
daemon_pid=$!
wait_state ready 60
if ((record_s > 0)); then
    log "recording $record_s s with the simulated camera"
    ctl record start >/dev/null
    sleep "$record_s"
    ctl record stop >/dev/null
    wait_state ready 60
fi
ctl dock >/dev/null
wait_state docked 30
wait_https "$port_a" 30 /v1/device

# The segments to fetch, from the dock API's own listing: "id seq bytes duration_s".
dock_curl "https://127.0.0.1:$port_a/v1/recordings" >"$work/listing.json"
jq -r '.recordings[] | .id as $id | .segments[]
        | select(.closed and .bytes != null)
        | "\($id) \(.sequence) \(.bytes) \(.meta.duration_seconds // 0)"' \
    "$work/listing.json" >"$work/segments.txt"
[[ -s $work/segments.txt ]] || die "the dock API lists no closed segment"
read -r nseg total_bytes footage_s < <(awk '{ n++; b += $3; d += $4 } END { printf "%d %d %.3f\n", n, b, d }' "$work/segments.txt")
awk -v d="$footage_s" 'BEGIN { exit !(d > 0) }' || die "the segments' sidecars give no duration"
byte_rate=$(awk -v b="$total_bytes" -v d="$footage_s" 'BEGIN { printf "%.1f", b / d }')
log "store: $nseg segments, $total_bytes bytes of media, $footage_s s of footage ($byte_rate B/s)"

# curl config files: the same paths on both servers, six-digit sequence numbers.
paths=()
while read -r id seq _ _; do
    paths+=("/v1/recordings/$id/segments/$(printf %06d "$seq")/media")
done <"$work/segments.txt"
for s in a b; do
    p=$port_a
    [[ $s == b ]] && p=$port_b
    : >"$work/$s.null.curl"
    : >"$work/$s.cat.curl"
    for path in "${paths[@]}"; do
        printf 'url = "https://127.0.0.1:%s%s"\noutput = "/dev/null"\n' "$p" "$path" >>"$work/$s.null.curl"
        printf 'url = "https://127.0.0.1:%s%s"\n' "$p" "$path" >>"$work/$s.cat.curl"
    done
done

# ---------- nginx ----------

mkdir -p "$work/nginx/tmp"
# Started as root, nginx's worker would drop to `nobody`, which cannot read the 0700 temp
# directory: keep the worker as the invoking user.
nginx_user=""
((EUID != 0)) || nginx_user="user root root;"
cat >"$work/nginx.conf" <<EOF
daemon off;
$nginx_user
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    types { video/mp2t ts; }
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port_b ssl;
        ssl_protocols TLSv1.3;
        ssl_certificate $pki/camera.pem;
        ssl_certificate_key $pki/camera.key;
        ssl_client_certificate $pki/ca.pem;
        ssl_verify_client on;
        location ~ "^/v1/recordings/([0-9A-Za-z]+)/segments/([0-9]{6})/media\$" {
            alias $store/recordings/\$1/\$2.ts;
        }
        location = /v1/device { return 200 "{}"; }
        location / { return 404; }
    }
}
EOF
log "starting nginx ($("$nginx" -v 2>&1 | sed 's/^nginx version: //'))"
"$nginx" -e "$work/nginx.log" -c "$work/nginx.conf" &
nginx_pid=$!
wait_https "$port_b" 30 /v1/device
nginx_pids() { echo "$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"; }

# ---------- checks ----------

cipher() { curl -v -sS --http1.1 "${tls_args[@]}" -o /dev/null "https://127.0.0.1:$1/v1/device" 2>&1 |
    sed -n 's/^\* SSL connection using //p' | head -n1; }
cipher_a=$(cipher "$port_a")
cipher_b=$(cipher "$port_b")
log "TLS: A $cipher_a; B $cipher_b"

log "warming the page cache and checking that both serve the files' exact bytes"
files=()
while read -r id seq _ _; do
    files+=("$store/recordings/$id/$(printf %06d "$seq").ts")
done <"$work/segments.txt"
sum_disk=$(cat "${files[@]}" | sha256sum | cut -d' ' -f1)
sum_a=$(dock_curl -K "$work/a.cat.curl" | sha256sum | cut -d' ' -f1) || die "A: fetching the segments failed"
sum_b=$(dock_curl -K "$work/b.cat.curl" | sha256sum | cut -d' ' -f1) || die "B: fetching the segments failed (see nginx.log)"
[[ $sum_a == "$sum_disk" ]] || die "A served different bytes ($sum_a, files $sum_disk)"
[[ $sum_b == "$sum_disk" ]] || die "B served different bytes ($sum_b, files $sum_disk)"

# ---------- rounds ----------

results=$work/results.tsv
ncpu=$(nproc)
printf 'round\tserver\tseconds\tbytes\tmb_per_s\tserver_cpu_s\tcurl_cpu_s\tmachine_busy_cores\tother_cores\tload1\n' >"$results"

# One timed pass against server S (a|b); appends a row to results.tsv.
pass() {
    local s=$1 round=$2 pids t0 t1 c0 c1 j0 j1 k0 k1 w got conns
    if [[ $s == a ]]; then pids=$daemon_pid; else pids=$(nginx_pids); fi
    read -r -a pid_list <<<"$pids"
    c0=$(cpu_of "${pid_list[@]}")
    j0=$(cpu_jiffies)
    k0=$(children_cpu)
    t0=$(now)
    w=$(dock_curl -K "$work/$s.null.curl" -w '%{http_code} %{size_download} %{num_connects}\n')
    t1=$(now)
    k1=$(children_cpu)
    j1=$(cpu_jiffies)
    c1=$(cpu_of "${pid_list[@]}")
    got=$(awk '$1 == 200 { b += $2 } END { print b + 0 }' <<<"$w")
    conns=$(awk '{ c += $3 } END { print c + 0 }' <<<"$w")
    ((got == total_bytes)) || die "round $round $s: $got bytes received, $total_bytes expected"
    ((conns == 1)) || die "round $round $s: $conns connections (expected one)"
    awk -v r="$round" -v s="$s" -v t0="$t0" -v t1="$t1" -v b="$got" -v c0="$c0" -v c1="$c1" \
        -v k0="$k0" -v k1="$k1" -v j0="$j0" -v j1="$j1" -v n="$ncpu" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
            split(j0, a, " "); split(j1, z, " ")
            busy = (z[2] > a[2]) ? (z[1] - a[1]) / (z[2] - a[2]) * n : 0
            other = busy - (c1 - c0 + k1 - k0) / (t1 - t0)
            if (other < 0) other = 0
            printf "%d\t%s\t%.4f\t%d\t%.1f\t%.3f\t%.3f\t%.2f\t%.2f\t%s\n", r, s, t1 - t0, b, b / (t1 - t0) / 1e6, c1 - c0, k1 - k0, busy, other, l
        }' >>"$results"
}

log "untimed warm-up pass against each server"
dock_curl -K "$work/a.null.curl" >/dev/null
dock_curl -K "$work/b.null.curl" >/dev/null
for r in $(seq 1 "$rounds"); do
    if ((r % 2)); then order=(a b); else order=(b a); fi
    for s in "${order[@]}"; do pass "$s" "$r"; done
    line=$(awk -F'\t' -v r="$r" '$1 == r { v[$2] = $5; o[$2] = $9 }
        END { printf "A %.0f MB/s, B %.0f MB/s, A/B %.2f (other load %.2f / %.2f cores)", v["a"], v["b"], v["a"] / v["b"], o["a"], o["b"] }' "$results")
    log "round $r/$rounds (${order[*]}): $line"
done

# ---------- optional: the dock agent into Azurite ----------

agent_result="not run"
if ((agent)) && "$bodycam" dock-agent --help >/dev/null 2>&1; then
    if [[ ! -x $azurite_blob ]]; then
        agent_result="skipped: no azurite-blob at $azurite_blob (cd scripts/azurite && npm ci, or set AZURITE_BLOB)"
    else
        log "dock-agent stage: Azurite on 127.0.0.1:$port_az"
        "$azurite_blob" --inMemoryPersistence --disableTelemetry --silent \
            --blobHost 127.0.0.1 --blobPort "$port_az" >"$work/azurite.log" 2>&1 &
        azurite_pid=$!
        for _ in $(seq 1 300); do
            curl -s -o /dev/null "http://127.0.0.1:$port_az/" && break
            sleep 0.1
        done
        identity=$("$bodycam" identity --config "$work/camera.toml" --json)
        # The agent's keys are those of src/agent/config.rs (docs/DEPLOYMENT.md). The camera
        # only records the dock's time as an offset (dock.set_clock is off), so the agent
        # may send it even when this runs as root.
        cat >"$work/agent.toml" <<EOF
state_dir = "$work/agent-state"
concurrency = 1
[tls]
ca = "$pki/ca.pem"
cert = "$pki/dock.pem"
key = "$pki/dock.key"
[[camera]]
name = "bench"
url = "https://127.0.0.1:$port_a"
[[enrolled]]
device_id = "$(jq -r .device_id <<<"$identity")"
public_key = "$(jq -r .public_key <<<"$identity")"
[azure]
account = "devstoreaccount1"
access_key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
container = "bodycam-bench"
endpoint = "http://127.0.0.1:$port_az/devstoreaccount1"
allow_http = true
create_container = true
EOF
        t0=$(now)
        if "$bodycam" dock-agent --config "$work/agent.toml" --once >"$work/agent.log" 2>&1; then
            t1=$(now)
            agent_result=$(awk -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v b="$total_bytes" \
                'BEGIN { printf "%.1f s for %d bytes of media: %.1f MB/s end to end (incl. journals, hashing, upload, acknowledgements)", t, b, b / t / 1e6 }')
            agent_result="$agent_result; agent: $(tail -n1 "$work/agent.log")"
        else
            agent_result="failed (exit $?), see agent.log: $(tail -n1 "$work/agent.log")"
        fi
        stop_pid "$azurite_pid" TERM
        azurite_pid=""
    fi
elif ((agent)); then
    agent_result="skipped: \`bodycam dock-agent --help\` fails (agent not built in yet)"
else
    agent_result="skipped (--no-agent)"
fi
log "dock-agent: $agent_result"

# ---------- summary ----------

read -r a_med a_min a_max < <(awk -F'\t' '$2 == "a" { print $5 }' "$results" | stats)
read -r b_med b_min b_max < <(awk -F'\t' '$2 == "b" { print $5 }' "$results" | stats)
read -r r_med r_min r_max < <(awk -F'\t' 'NR > 1 { v[$1, $2] = $5; n[$1] = 1 }
    END { for (r in n) print v[r, "a"] / v[r, "b"] }' "$results" | stats)
# Server CPU seconds per GB served.
read -r ca_med ca_min ca_max < <(awk -F'\t' '$2 == "a" { print $6 / $4 * 1e9 }' "$results" | stats)
read -r cb_med cb_min cb_max < <(awk -F'\t' '$2 == "b" { print $6 / $4 * 1e9 }' "$results" | stats)
read -r kl_med kl_min kl_max < <(awk -F'\t' 'NR > 1 { print $7 / $4 * 1e9 }' "$results" | stats)
read -r busy_med busy_min busy_max < <(awk -F'\t' 'NR > 1 { print $8 }' "$results" | stats)
read -r oa_med oa_min oa_max < <(awk -F'\t' '$2 == "a" { print $9 }' "$results" | stats)
read -r ob_med ob_min ob_max < <(awk -F'\t' '$2 == "b" { print $9 }' "$results" | stats)
read -r load_med load_min load_max < <(awk -F'\t' 'NR > 1 { print $10 }' "$results" | stats)
read -r full_gb full_s link_s eff < <(awk -v rate="$byte_rate" -v h="$hours" -v a="$a_med" -v l="$link_mbps" 'BEGIN {
    bytes = rate * h * 3600; e = (a < l) ? a : l
    printf "%.2f %.0f %.0f %.4g\n", bytes / 1e9, bytes / (e * 1e6), bytes / (a * 1e6), e }')
hm() { awk -v s="$1" 'BEGIN { printf "%d min %02d s", s / 60, s % 60 }'; }
per_round=$(awk -F'\t' 'NR > 1 { v[$1, $2] = $5; n[$1] = 1 }
    END { for (r = 1; r in n; r++) printf "%s%.2f", (r > 1 ? ", " : ""), v[r, "a"] / v[r, "b"] }' "$results")

summary=$(
    cat <<EOF
Dock offload: camera dock API (A) vs nginx (B), same files, loopback mutual TLS, curl, one HTTP/1.1 connection
machine: $machine
date: $started; commit $commit; $("$bodycam" --version); $("$nginx" -v 2>&1 | sed 's/^nginx version: //'); $(curl --version | head -n1 | cut -d' ' -f1-2,5)
load average during the rounds: $load_med [$load_min – $load_max]; busy cores while fetching (all processes): $busy_med [$busy_min – $busy_max]
store: $source
       $nseg segments, $total_bytes bytes of media, $footage_s s of footage = $byte_rate B/s
TLS: A $cipher_a; B $cipher_b
rounds: $rounds, interleaved (A B, B A, …); median [min – max]

| metric | median | min – max |
|---|---|---|
| A: dock API, MB/s | $a_med | $a_min – $a_max |
| B: nginx, MB/s | $b_med | $b_min – $b_max |
| A/B throughput (target ≥ 0.8) | $r_med | $r_min – $r_max |
| A server CPU s per GB | $ca_med | $ca_min – $ca_max |
| B server CPU s per GB | $cb_med | $cb_min – $cb_max |
| curl (client) CPU s per GB, both | $kl_med | $kl_min – $kl_max |
| other processes' load during A, cores | $oa_med | $oa_min – $oa_max |
| other processes' load during B, cores | $ob_med | $ob_min – $ob_max |

A/B per round: $per_round
$hours h store at $byte_rate B/s: $full_gb GB; over the dock link at min($link_mbps MB/s, A $a_med MB/s) = $eff MB/s: $(hm "$full_s") ($full_s s); at A's loopback rate alone: $(hm "$link_s")
dock-agent --once into Azurite: $agent_result
EOF
)
echo "$summary"
if [[ -n $out ]]; then
    cp "$results" "$work/listing.json" "$out"/
    echo "$summary" >"$out/summary.md"
    log "results in $out"
fi

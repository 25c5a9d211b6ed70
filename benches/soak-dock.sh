#!/usr/bin/env bash
# Dock API under load (issue 11): a docked `bodycam run` serving a store of 6 segments
# (60 s at 3000 kbit/s, written by examples/make_store) over mutual TLS, measured with
# benches/dock_load.py:
#   1. 8 concurrent downloaders of every segment, ROUNDS times: the baseline;
#   2. the same with 50 TCP connections open that never start TLS (target: at most
#      2 x the baseline + 1 s);
#   3. the documented deadlines: silent sockets (handshake, 10 s), clients dripping
#      their headers one byte every 2 s (header deadline, 15 s), clients that stop
#      reading mid-download (stall deadline, 60 s), while downloads go on;
#   4. CYCLES dock/undock cycles with downloaders, silent and dripping clients running:
#      the daemon must stay up, keep answering ctl, keep its RSS bounded, and serve
#      correct bytes afterwards.
# Not run in CI (about 3 minutes). Results in OUT_DIR/summary.md and OUT_DIR/*.json.
#
# Usage: benches/soak-dock.sh [--rounds N] [--cycles N] [--out DIR] [--port P]
# Environment: BODYCAM=path (default <repo>/target/release/bodycam); MAKE_STORE=path
# (default <repo>/target/release/examples/make_store, built with cargo when missing).
# Needs: python3, jq, ss.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
rounds=5
cycles=10
port=18443
out="./bench-out/soak-dock-$(date -u +%Y%m%dT%H%M%SZ)"
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
make_store=${MAKE_STORE:-"$repo/target/release/examples/make_store"}
while [[ $# -gt 0 ]]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --cycles) cycles=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "soak-dock.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "soak-dock.sh: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
for tool in python3 jq ss; do command -v "$tool" >/dev/null || die "$tool missing"; done
if [[ ! -x $make_store ]]; then
    (cd "$repo" && cargo build --release --example make_store) || die "cannot build make_store"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
store=$out/store
pki=$out/pki
sock=/tmp/bodycam-soakdock-$$.sock
cfg=$out/bodycam.toml
dlog=$out/daemon.log
load=(python3 "$here/dock_load.py" --port "$port" --pki "$pki" --store "$store")

rm -rf "$store" "$pki"
log "writing the store (6 x 60 s at 3000 kbit/s)"
"$make_store" "$store" 6 3000 >"$out/make_store.txt"
"$bodycam" pki dev "$pki" --name 127.0.0.1 --name localhost >/dev/null
cat >"$cfg" <<EOF
[camera]
width = 320
height = 240
framerate = 15
bitrate_kbps = 300
encoder = "x264"
[recording]
pre_event_seconds = 0
[storage]
path = "$store"
reserve_hours = 0
[ctl]
socket = "$sock"
[dock]
listen = "127.0.0.1:$port"
ca = "$pki/ca.pem"
cert = "$pki/camera.pem"
key = "$pki/camera.key"
EOF

pid=""
bg=()
cleanup() {
    for p in "${bg[@]}"; do kill "$p" 2>/dev/null || true; done
    [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$sock"
}
trap cleanup EXIT
ctl() { "$bodycam" ctl --socket "$sock" "$@"; }
state() { ctl status --json 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true; }
wait_state() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ $(state) == "$1" ]] && return 0
        sleep 0.1
    done
    die "no state $1 within $2 s (see $dlog)"
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
wait_port() {
    local i
    for ((i = 0; i < 100; i++)); do
        ss -Htln "( sport = :$port )" | grep -q . && return 0
        sleep 0.1
    done
    die "the dock API did not open on $port"
}

BODYCAM_LOG=warn "$bodycam" run --config "$cfg" >"$dlog" 2>&1 &
pid=$!
wait_state ready 30
ctl dock >/dev/null
wait_state docked 10
wait_port
rss_start=$(rss_kb)

log "1. baseline: 8 downloaders x $rounds"
: >"$out/baseline.json"
for ((r = 0; r < rounds; r++)); do "${load[@]}" download -n 8 >>"$out/baseline.json"; done
log "2. the same with 50 silent TCP connections"
: >"$out/with-idle.json"
for ((r = 0; r < rounds; r++)); do
    ready=$out/idle-ready
    rm -f "$ready"
    # Held until the server drops them (longer than any wait the downloads could see).
    "${load[@]}" idle -n 50 --seconds 120 --ready "$ready" >"$out/idle-$r.json" &
    ip=$!
    for _ in $(seq 100); do [[ -e $ready ]] && break; sleep 0.1; done
    "${load[@]}" download -n 8 >>"$out/with-idle.json"
    kill "$ip" 2>/dev/null || true
    wait "$ip" || true
done
read -r base_med base_min base_max < <(jq .seconds "$out/baseline.json" | stats)
read -r idle_med idle_min idle_max < <(jq .seconds "$out/with-idle.json" | stats)
errors=$(jq -s 'map(.errors | length) | add' "$out/baseline.json" "$out/with-idle.json")
target=$(echo "2 * $base_med + 1" | bc -l)

log "3. deadlines: silent, dripping and stalled clients while 8 downloaders run"
"${load[@]}" idle -n 4 --seconds 40 >"$out/deadline-idle.json" &
bg+=($!)
"${load[@]}" drip -n 4 --gap 2 --seconds 40 >"$out/deadline-drip.json" &
bg+=($!)
"${load[@]}" stall -n 2 --seconds 90 >"$out/deadline-stall.json" &
bg+=($!)
"${load[@]}" download -n 8 >"$out/deadline-download.json"
for p in "${bg[@]}"; do wait "$p"; done
bg=()

log "4. $cycles dock/undock cycles under load"
: >"$out/cycles.tsv"
ctl_max=0
rss_max=0
for ((c = 1; c <= cycles; c++)); do
    "${load[@]}" download -n 8 >"$out/cycle-$c-download.json" 2>/dev/null &
    bg+=($!)
    "${load[@]}" idle -n 20 --seconds 8 >/dev/null 2>&1 &
    bg+=($!)
    "${load[@]}" drip -n 4 --gap 1 --seconds 8 >/dev/null 2>&1 &
    bg+=($!)
    sleep 2
    t=$(date +%s%N)
    ctl undock >/dev/null
    ms=$(( ($(date +%s%N) - t) / 1000000 ))
    (( ms > ctl_max )) && ctl_max=$ms
    wait_state ready 30
    ctl dock >/dev/null
    wait_state docked 10
    wait_port
    for p in "${bg[@]}"; do wait "$p" || true; done
    bg=()
    kill -0 "$pid" || die "the daemon died in cycle $c"
    rss=$(rss_kb)
    (( rss > rss_max )) && rss_max=$rss
    printf '%s\t%s\t%s\n' "$c" "$rss" "$ms" >>"$out/cycles.tsv"
done
"${load[@]}" download -n 8 >"$out/after.json"
after_errors=$(jq '.errors | length' "$out/after.json")
rss_end=$(rss_kb)
kill -TERM "$pid"
wait "$pid" || die "the daemon did not stop cleanly"
pid=""

cutoff() { jq -r '"\(.cut_off)/\(.clients) after \(.min_s)–\(.max_s) s"' "$1"; }
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cat >"$out/summary.md" <<EOF
| metric | value | target |
|---|---|---|
| 8 concurrent mTLS downloads of 6 segments ($(jq -r .bytes "$out/baseline.json" | head -1) bytes each round), s: median [min – max] of $rounds | **$base_med** [$base_min – $base_max] | — |
| the same with 50 silent TCP connections open | **$idle_med** [$idle_min – $idle_max] | ≤ 2 × baseline + 1 s = $(printf '%.2f' "$target") |
| download errors (HTTP status or SHA-256 mismatch) in 1–2 | $errors | 0 |
| silent sockets (no TLS) cut off | $(cutoff "$out/deadline-idle.json") | handshake deadline 10 s |
| clients dripping headers 1 byte / 2 s cut off | $(cutoff "$out/deadline-drip.json") | header deadline 15 s |
| clients that stop reading mid-download cut off | $(cutoff "$out/deadline-stall.json") | stall deadline 60 s |
| downloads meanwhile | $(jq -r '"\(.seconds) s, \(.errors | length) errors"' "$out/deadline-download.json") | 0 errors |
| dock/undock cycles under load | $cycles, daemon up throughout; slowest \`ctl undock\` $ctl_max ms | — |
| daemon RSS: docked at start / max over the cycles / end | $((rss_start / 1024)) / $((rss_max / 1024)) / $((rss_end / 1024)) MB | bounded |
| downloads after the cycles | $after_errors errors | 0 |
| load average (1, 5, 15 min) at the end, 2 cores shared with other sessions | $load_end | — |
EOF
cat "$out/summary.md"

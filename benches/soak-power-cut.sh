#!/usr/bin/env bash
# Power-cut soak (issue 11): TRIALS random SIGKILLs of a recording `bodycam run` on the
# simulated camera. Each trial: wait for ready, `ctl record start`, wait a random time,
# SIGKILL; then, before the restart, note how far each open segment is signed (the end
# of its last durable checkpoint, from `bodycam verify --json` of that segment); restart,
# let recovery close it, and check that the signed part is still there, byte for byte
# covered (signed bytes lost = what the checkpoints covered before the kill and no longer
# do after recovery), and how long the tail signed only at the restart is
# (RECOVERED_TAIL seconds). At the end the whole store must verify.
#
# Not run in CI (about 10 s per trial here). Results: OUT_DIR/trials.tsv (one row per
# trial), OUT_DIR/summary.md, and the daemon log around any trial that recovered nothing.
#
# Usage: benches/soak-power-cut.sh [--trials N] [--max-ms MS] [--out DIR] [--seed S]
#   --trials N   kills (default 200)
#   --max-ms MS  longest wait between `record start` and the kill (default 6000; the
#                shortest is 200 ms); segments are 2 s, so kills land across rollovers
#   --out DIR    results (default ./bench-out/soak-power-cut-<UTC time>)
#   --seed S     RNG seed for the kill moments (default: from the clock; printed)
# Environment: BODYCAM=path (default <repo>/target/release/bodycam; build it first).
# Needs: jq.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
trials=200
max_ms=6000
out="./bench-out/soak-power-cut-$(date -u +%Y%m%dT%H%M%SZ)"
seed=$(( $(date +%s%N) % 2147483647 ))
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
while [[ $# -gt 0 ]]; do
    case $1 in
    --trials) trials=$2; shift 2 ;;
    --max-ms) max_ms=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    -h | --help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "soak-power-cut.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "soak-power-cut.sh: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
command -v jq >/dev/null || die "jq missing"

mkdir -p "$out"
out=$(cd "$out" && pwd)
data=$out/data
sock=/tmp/bodycam-soak-$$.sock
cfg=$out/bodycam.toml
dlog=$out/daemon.log
rows=$out/trials.tsv
cat >"$cfg" <<EOF
[camera]
width = 640
height = 360
framerate = 30
bitrate_kbps = 1500
encoder = "x264"
[recording]
segment_seconds = 2
pre_event_seconds = 0
[storage]
path = "$data"
[ctl]
socket = "$sock"
EOF

pid=""
cleanup() {
    [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$sock"
}
trap cleanup EXIT

ctl() { "$bodycam" ctl --socket "$sock" "$@"; }
state() { ctl status --json 2>/dev/null | jq -r '.state // empty' 2>/dev/null || true; }
start_daemon() {
    BODYCAM_LOG=info "$bodycam" run --config "$cfg" >>"$dlog" 2>&1 &
    pid=$!
}
# Wait for state $1 up to $2 seconds.
wait_state() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ $(state) == "$1" ]] && return 0
        sleep 0.1
    done
    return 1
}
key() { jq -r .public_key "$data/keys/identity.json"; }
# `verify --json` of one path against the device key.
verify_json() { "$bodycam" verify --json --key "$(key)" "$1" 2>/dev/null || true; }

# RNG (xorshift, reproducible from --seed).
# (Updates the global rng: call it directly, not in $(…), which would lose the state.)
rng=$(( seed | 1 ))
next_rand() {
    rng=$(( (rng ^ (rng << 13)) & 0x7fffffff ))
    rng=$(( (rng ^ (rng >> 17)) & 0x7fffffff ))
    rng=$(( (rng ^ (rng << 5)) & 0x7fffffff ))
}

log "seed $seed, $trials trials, kill 200..$max_ms ms after the start; out $out"
printf 'trial\tdelay_ms\trecovered_segments\tsegment\tsigned_before\tsigned_after\tsigned_lost\ttail_bytes\ttail_s\tstatus\n' >"$rows"
start_daemon
zero=0
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for ((t = 1; t <= trials; t++)); do
    wait_state ready 60 || die "trial $t: not ready (see $dlog)"
    ctl record start >/dev/null || die "trial $t: record start refused"
    wait_state recording 10 || die "trial $t: not recording"
    next_rand
    delay=$(( 200 + rng % (max_ms - 200) ))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    # What the open segment(s) had signed when the power went.
    rec=$(find "$data/recordings" -mindepth 1 -maxdepth 1 -type d | sort | tail -1)
    declare -A before=()
    while IFS=$'\t' read -r seq signed; do
        before[$seq]=$signed
    done < <(verify_json "$rec" | jq -r '.segments[] | select(.status == "OPEN")
        | [.segment, (.unsigned_tail.byte_range[0] // .media_bytes)] | @tsv')
    echo "=== trial $t: SIGKILL after $delay ms; open: ${!before[*]}" >>"$dlog"
    start_daemon
    wait_state ready 60 || die "trial $t: not ready after the restart (see $dlog)"
    recovered=$(ctl status --json | jq .recovered_segments)
    if [[ $recovered -eq 0 ]]; then
        zero=$((zero + 1))
        printf '%s\t%s\t0\t-\t-\t-\t-\t-\t-\t%s\n' "$t" "$delay" "no-open-segment" >>"$rows"
        tail -60 "$dlog" >"$out/trial-$t-recovered-nothing.log"
        continue
    fi
    for seq in "${!before[@]}"; do
        ts=$(printf '%s/%06d.ts' "$rec" "$seq")
        read -r after tail_b tail_s status < <(verify_json "$ts" | jq -r '.segments[0]
            | [(.recovered_tail.byte_range[0] // .media_bytes), (.recovered_tail.bytes // 0),
               (.recovered_tail.seconds // 0), .status] | @tsv')
        lost=$(( before[$seq] > after ? before[$seq] - after : 0 ))
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$delay" "$recovered" "$seq" \
            "${before[$seq]}" "$after" "$lost" "$tail_b" "$tail_s" "$status" >>"$rows"
    done
    unset before
    (( t % 20 == 0 )) && log "trial $t/$trials"
done
ctl record stop >/dev/null 2>&1 || true
kill -TERM "$pid"
wait "$pid" || die "the daemon did not stop cleanly"
pid=""
elapsed=$(( $(date +%s) - started ))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
log "verifying the whole store"
vstart=$(date +%s.%N)
if "$bodycam" verify --key "$(key)" "$data" >"$out/verify.txt" 2>&1; then verdict=OK; else verdict=FAILED; fi
vsecs=$(echo "$(date +%s.%N) - $vstart" | bc)

lost_total=$(awk -F'\t' 'NR > 1 && $7 != "-" { s += $7 } END { print s + 0 }' "$rows")
kills_with_open=$(awk -F'\t' 'NR > 1 && $4 != "-"' "$rows" | wc -l)
read -r tail_med tail_min tail_max < <(awk -F'\t' 'NR > 1 && $9 != "-" { print $9 }' "$rows" | stats)
read -r bytes_med bytes_min bytes_max < <(awk -F'\t' 'NR > 1 && $8 != "-" { print $8 }' "$rows" | stats |
    awk '{ printf "%.0f %.0f %.0f\n", $1, $2, $3 }')
not_recovered=$(awk -F'\t' 'NR > 1 && $4 != "-" && $10 != "RECOVERED_TAIL" && $10 != "OK"' "$rows" | wc -l)
segments=$(find "$data/recordings" -name '*.ts' | wc -l)
cat >"$out/summary.md" <<EOF
| metric ($trials SIGKILLs, seed $seed, kill 200..$max_ms ms after the start) | value | target |
|---|---|---|
| signed bytes lost (checkpointed before the kill, not covered after recovery) | **$lost_total** | 0 |
| kills that left an open segment / recovered nothing | $kills_with_open / $zero | — |
| recovered segments not RECOVERED_TAIL or OK | $not_recovered | 0 |
| unsigned tail signed at restart, seconds: median / min / max | **$tail_med** / $tail_min / **$tail_max** | ≤ 1 s |
| unsigned tail, bytes: median / min / max | $bytes_med / $bytes_min / $bytes_max | — |
| whole store ($segments segments) \`bodycam verify\` | **$verdict** ($(printf '%.1f' "$vsecs") s) | OK |
| wall time | $elapsed s | — |
| load average (1, 5, 15 min) at the start / end, on 2 cores shared with other sessions | $load_start / $load_end | — |
EOF
cat "$out/summary.md"
[[ $verdict == OK && $lost_total -eq 0 ]]

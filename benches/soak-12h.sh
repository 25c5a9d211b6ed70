#!/usr/bin/env bash
# Long-recording soak (issue 11): HOURS of footage recorded as fast as the machine
# allows, then verified. The camera is the test-only replay source
# (`camera.source = "replay"`): a 60 s clip encoded once here (1920x1080@30, x264 at
# KBPS, AAC 64 kbit/s) is pushed at full speed into appsrc ! h264parse / aacparse and the
# production appsinks, so everything from the appsinks on (interleaver, pre-event buffer,
# muxer, segments, checkpoints, signing, sidecars, audit) is the production path, with
# the Pi's 60 s segments and 30 s pre-event buffer.
#
# Reports: recording wall time, segments, bytes, `bodycam verify` time, and the daemon's
# RSS at each hour of footage (hour 1 against the last: target flat within 5 MB). Not run
# in CI. Results in OUT_DIR/hours.tsv and OUT_DIR/summary.md; the store is deleted at
# the end unless --keep.
#
# Usage: benches/soak-12h.sh [--hours H] [--kbps K] [--out DIR] [--keep]
#   --hours H   hours of footage (default 12)
#   --kbps K    video bitrate of the clip (default 6000, the Pi config's); the store
#               needs about H * 3600 * (K/8 * 1.04 + 16) kB, and the script refuses to
#               start without that much free space plus 4 GB
#   --out DIR   results (default ./bench-out/soak-12h-<UTC time>)
#   --keep      keep the recorded store
# Environment: BODYCAM=path (default <repo>/target/release/bodycam; build it first).
# Needs: gst-launch-1.0 (x264enc, avenc_aac), jq, bc.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
hours=12
kbps=6000
out="./bench-out/soak-12h-$(date -u +%Y%m%dT%H%M%SZ)"
keep=0
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
while [[ $# -gt 0 ]]; do
    case $1 in
    --hours) hours=$2; shift 2 ;;
    --kbps) kbps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "soak-12h.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "soak-12h.sh: $*" >&2; exit 1; }
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
for tool in gst-launch-1.0 jq bc; do command -v "$tool" >/dev/null || die "$tool missing"; done

mkdir -p "$out"
out=$(cd "$out" && pwd)
clip=$out/clip
data=$out/data
sock=/tmp/bodycam-soak12-$$.sock
cfg=$out/bodycam.toml
dlog=$out/daemon.log

need_kb=$(( hours * 3600 * (kbps * 104 / 800 + 16) ))
free_kb=$(df -Pk "$out" | awk 'NR == 2 { print $4 }')
(( free_kb > need_kb + 4 * 1024 * 1024 )) ||
    die "needs ~$((need_kb / 1024 / 1024)) GB for the store plus 4 GB spare, $((free_kb / 1024 / 1024)) GB free on $out (try a lower --kbps)"

if [[ ! -s $clip/video.h264 ]]; then
    log "encoding the 60 s clip (1920x1080@30, $kbps kbit/s)"
    mkdir -p "$clip"
    gst-launch-1.0 -q videotestsrc pattern=snow num-buffers=1800 \
        ! video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 \
        ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate="$kbps" \
        ! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 \
        ! video/x-h264,stream-format=byte-stream,alignment=au ! filesink location="$clip/video.h264"
    gst-launch-1.0 -q audiotestsrc num-buffers=2813 wave=sine freq=440 volume=0.2 samplesperbuffer=1024 \
        ! audio/x-raw,rate=48000,channels=1 ! avenc_aac bitrate=64000 ! aacparse \
        ! audio/mpeg,mpegversion=4,stream-format=adts ! filesink location="$clip/audio.aac"
fi
cat >"$cfg" <<EOF
[camera]
source = "replay"
device = "$clip"
width = 1920
height = 1080
framerate = 30
bitrate_kbps = $kbps
[audio]
enabled = true
bitrate_kbps = 64
[recording]
segment_seconds = 60
pre_event_seconds = 30
[storage]
path = "$data"
reserve_hours = 0
[ctl]
socket = "$sock"
EOF

pid=""
cleanup() {
    [[ -z $pid ]] || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$sock"
    [[ $keep -eq 1 ]] || rm -rf "$data"
}
trap cleanup EXIT
ctl() { "$bodycam" ctl --socket "$sock" "$@"; }
status() { ctl status --json 2>/dev/null || echo '{}'; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status"; }

rm -rf "$data"
BODYCAM_LOG=warn "$bodycam" run --config "$cfg" >"$dlog" 2>&1 &
pid=$!
for _ in $(seq 300); do [[ $(status | jq -r '.state // empty') == ready ]] && break; sleep 0.1; done
[[ $(status | jq -r .state) == ready ]] || die "the daemon is not ready (see $dlog)"
log "recording $hours h of footage"
ctl record start >/dev/null
t0=$(date +%s.%N)
printf 'hour\twall_s\tsegments\trss_kb\n' >"$out/hours.tsv"
next=1
while (( next <= hours )); do
    s=$(status)
    secs=$(jq -r '.seconds_recorded // 0' <<<"$s")
    [[ $(jq -r '.state // empty' <<<"$s") == recording ]] || die "state $(jq -r .state <<<"$s") while recording (see $dlog)"
    if (( $(echo "$secs >= $next * 3600" | bc) )); then
        printf '%s\t%s\t%s\t%s\n' "$next" "$(echo "$(date +%s.%N) - $t0" | bc)" \
            "$(jq -r .segments_written <<<"$s")" "$(rss_kb)" >>"$out/hours.tsv"
        log "hour $next: $(tail -1 "$out/hours.tsv")"
        next=$((next + 1))
        continue
    fi
    sleep 0.5
done
ctl record stop >/dev/null
for _ in $(seq 100); do [[ $(status | jq -r .state) == ready ]] && break; sleep 0.1; done
record_s=$(echo "$(date +%s.%N) - $t0" | bc)
peak_kb=$(hwm_kb)
kill -TERM "$pid"
wait "$pid" || die "the daemon did not stop cleanly (see $dlog)"
pid=""

segments=$(find "$data/recordings" -name '*.ts' | wc -l)
bytes=$(find "$data/recordings" -name '*.ts' -printf '%s\n' | awk '{ s += $1 } END { print s }')
log "verifying $segments segments ($((bytes / 1000000)) MB)"
v0=$(date +%s.%N)
key=$(jq -r .public_key "$data/keys/identity.json")
if "$bodycam" verify --key "$key" "$data" >"$out/verify.txt" 2>&1; then verdict=OK; else verdict=FAILED; fi
verify_s=$(echo "$(date +%s.%N) - $v0" | bc)
rss1=$(awk -F'\t' '$1 == 1 { print $4 }' "$out/hours.tsv")
rssn=$(awk -F'\t' -v h="$hours" '$1 == h { print $4 }' "$out/hours.tsv")
total=$(echo "$record_s + $verify_s" | bc)
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
cat >"$out/summary.md" <<EOF
| metric ($hours h of footage, 1920x1080@30, $kbps kbit/s video + 64 kbit/s AAC, 60 s segments) | value | target |
|---|---|---|
| recording wall time | **$(printf '%.0f' "$record_s") s** | — |
| segments / media bytes | $segments / $bytes | — |
| \`bodycam verify\` of the store | $verdict in **$(printf '%.0f' "$verify_s") s** | OK |
| recording + verifying | **$(printf '%.0f' "$total") s** | ≤ 600 s |
| daemon RSS at hour 1 / hour $hours | $((rss1 / 1024)) MB / $((rssn / 1024)) MB (Δ $(( (rssn - rss1) / 1024 )) MB; $rss1 → $rssn kB) | flat within 5 MB |
| daemon peak RSS (VmHWM) | $((peak_kb / 1024)) MB | — |
| load average (1, 5, 15 min) at the end, 2 cores shared with other sessions | $load_end | — |
EOF
cat "$out/summary.md"
[[ $verdict == OK ]]

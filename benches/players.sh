#!/usr/bin/env bash
# Players check (issue 10): records with the default configuration and a 10 s pre-event
# buffer, then opens every segment in ffprobe, `ffmpeg -c copy` to MP4, VLC's command-line
# player and GStreamer's playbin, and says for each whether it saw the AAC stream from
# the start. A check, not a timing: nothing is measured, results go to OUT_DIR/summary.md.
#
# Usage: benches/players.sh [RECORD_S [OUT_DIR]]
#   RECORD_S  seconds recorded after the start (default 8)
#   OUT_DIR   default ./bench-out/players-<UTC time>
#   BODYCAM=path  the binary (default <repo>/target/release/bodycam)
# Needs: ffmpeg/ffprobe, gst-launch-1.0 (playbin), cvlc (vlc-bin, vlc-plugin-base) run as
# the unprivileged user `nobody` through runuser (VLC refuses to run as root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
record_s=${1:-8}
out=${2:-"./bench-out/players-$(date -u +%Y%m%dT%H%M%SZ)"}
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
die() {
    echo "players.sh: $*" >&2
    exit 1
}
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam"
for t in ffprobe ffmpeg gst-launch-1.0 cvlc runuser; do
    command -v "$t" >/dev/null || die "$t missing"
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
chmod a+rx "$out"
sock=/tmp/bodycam-players-$$.sock
cat >"$out/bodycam.toml" <<EOF
# The developer defaults, with a 10 s pre-event buffer and the paths of this run.
[recording]
pre_event_seconds = 10
[storage]
path = "$out/data"
[ctl]
socket = "$sock"
EOF
"$bodycam" run --config "$out/bodycam.toml" 2>"$out/daemon.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -f "$sock"' EXIT
for _ in $(seq 1 300); do
    "$bodycam" ctl --config "$out/bodycam.toml" status 2>/dev/null | grep -q 'state: *ready' && break
    sleep 0.1
done
sleep 11
"$bodycam" ctl --config "$out/bodycam.toml" record start >/dev/null
sleep "$record_s"
"$bodycam" ctl --config "$out/bodycam.toml" record stop >/dev/null
sleep 1
kill -TERM "$pid"
wait "$pid" || die "daemon did not exit 0"
trap - EXIT

{
    echo "## Players: default configuration, 10 s pre-event, ${record_s} s recorded"
    echo
    echo "| segment | ffprobe audio | MP4 (-c copy) streams, audio s | sidecar audio s (silence s) | VLC | playbin audio caps |"
    echo "| --- | --- | --- | --- | --- | --- |"
} >"$out/summary.md"
find "$out/data/recordings" -type d -exec chmod a+rx {} +
find "$out/data/recordings" -type f -exec chmod a+r {} +
for ts in $(find "$out/data/recordings" -name '*.ts' | sort); do
    name=$(basename "$ts")
    probe=$(ffprobe -v error -select_streams a -show_entries stream=codec_name,sample_rate,channels -of csv=p=0 "$ts" | head -n1)
    mp4=$out/${name%.ts}.mp4
    ffmpeg -nostdin -v error -y -i "$ts" -map 0 -c copy "$mp4"
    streams=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$mp4" | grep . | paste -sd+)
    adur=$(ffprobe -v error -select_streams a -show_entries stream=duration -of csv=p=0 "$mp4" | head -n1)
    side=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); s=sum(x["frames"] for x in m.get("audio_silence",[])); print("%.3f (%.3f)" % (m["audio_frames"]*1024/48000, s*1024/48000))' "${ts%.ts}.json")
    vlc_log=$out/${name%.ts}.vlc.log
    timeout 60 runuser -u nobody -- cvlc -vv --play-and-exit --vout=dummy --aout=dummy --stop-time=3 "$ts" >"$vlc_log" 2>&1 || true
    vlc="$(grep -c 'buffer deadlock prevented' "$vlc_log" || true) deadlock msgs, $(grep -m1 -o 'AAC channels: [0-9]* samplerate: [0-9]*' "$vlc_log" || echo 'no AAC')"
    pb_log=$out/${name%.ts}.playbin.log
    timeout 60 gst-launch-1.0 -v playbin uri="file://$ts" video-sink="fakesink sync=false" \
        audio-sink="fakesink name=as sync=false" >"$pb_log" 2>&1 || true
    pb=$(grep 'as.GstPad:sink: caps' "$pb_log" | sed -E 's/.*rate=\(int\)([0-9]+).*channels=\(int\)([0-9]+).*/\1 Hz \2 ch/' | sort -u | paste -sd' ')
    echo "| $name | $probe | $streams, $adur | $side | $vlc | ${pb:-none} |" >>"$out/summary.md"
done
cat "$out/summary.md"

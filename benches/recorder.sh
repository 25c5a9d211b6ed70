#!/usr/bin/env bash
# Recorder benchmark (issues 2 and 10): CPU time and peak RSS of `bodycam run` recording
# 1280x720@30 (or 1920x1080@30) from the simulated camera, against gst-launch-1.0 running
# the same capture pipeline into mpegtsmux ! filesink, with and without a comparable
# once-a-second overlay (clockoverlay), run interleaved, reported as ratios; plus the
# daemon's start-to-ready and gesture-to-recording latencies and its RSS with the
# pre-event buffer full.
#
# Usage:
#   benches/recorder.sh [DURATION_S [REPETITIONS [OUT_DIR]]]
#     DURATION_S   seconds recorded per run                      (default 60)
#     REPETITIONS  interleaved rounds of bare, clock, daemon     (default 3)
#     OUT_DIR      where configs, logs, media and results go     (default ./bench-out/recorder-<UTC time>)
#   Environment:
#     BODYCAM=path        bodycam binary (default <repo>/target/release/bodycam; build it first with
#                         `cargo build --release`)
#     PATTERN=ball|snow   simulated camera picture (default ball, the daemon's default)
#     RES=720|1080        1280x720 at 3000 kbit/s (default, the developer config) or
#                         1920x1080 at 6000 kbit/s (the Pi config)
#     LAT_TRIALS=N        daemon start/gesture latency trials (default 5; 0 skips them)
#     LAT_FILL_S=S        seconds in `ready` before the gesture, to fill the 30 s pre-event
#                         buffer (default 32)
#     KEEP_MEDIA=1        keep the recorded .ts files (default: deleted after the decode check)
#   Needs: gst-launch-1.0 (plugins good/ugly/libav), /usr/bin/time (GNU, Debian package `time`),
#   ffprobe and ffmpeg, pgrep.
#
# Each round runs, one after the other on the same machine:
#   bare    `bodycam pipeline` with its two appsinks replaced by `mpegtsmux ! filesink`, under
#           `gst-launch-1.0 -e`, SIGINT (EOS) after DURATION_S. No overlay (the daemon draws
#           its own from a probe, which gst-launch cannot run).
#   clock   as bare, with a clockoverlay drawing "YYYY-MM-DD HH:MM:SS UTC  CAM XXXXXXXX" in
#           front of the encoder's queue: the stock once-a-second overlay, the baseline the
#           issue names for the daemon's CPU (target daemon/clock <= 1.05).
#   daemon  `bodycam run`, `ctl record start` as soon as the log says ready, SIGTERM after
#           DURATION_S of recording. pre_event_seconds = 30, so the RAM pre-event buffer is
#           part of the daemon's RSS; here it holds only the moment before `record start`.
#   The latency trials fill it (LAT_FILL_S in ready), read the buffer's bytes from
#   `ctl status --json`, press the simulated button twice (`ctl button double`), and read
#   the times from the daemon's log; their peak RSS is the daemon's with a full buffer,
#   against the target bare RSS + the buffer's bytes + 8 MB (issue 10).
# All under `/usr/bin/time -v` (user+sys CPU seconds of the process and its children, max RSS).
# Ratios are taken per round (daemon/clock, daemon/bare) and reported as median [min..max].
# Timings are never asserted: this script only measures and writes results.tsv,
# latency.tsv and summary.md into OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
duration=${1:-60}
reps=${2:-3}
out=${3:-"./bench-out/recorder-$(date -u +%Y%m%dT%H%M%SZ)"}
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
pattern=${PATTERN:-ball}
res=${RES:-720}
case $res in
720) width=1280 height=720 bitrate=3000 clock_font=15 ;;
1080) width=1920 height=1080 bitrate=6000 clock_font=22 ;;
*)
    echo "recorder.sh: RES must be 720 or 1080" >&2
    exit 1
    ;;
esac
lat_trials=${LAT_TRIALS:-5}
lat_fill=${LAT_FILL_S:-32}
keep_media=${KEEP_MEDIA:-0}
timev=/usr/bin/time
# Short, fixed socket path (sun_path is limited to 108 bytes; OUT_DIR may be long).
sock=/tmp/bodycam-bench-$$.sock

die() {
    echo "recorder.sh: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

[[ $duration =~ ^[0-9]+$ && $duration -ge 5 ]] || die "DURATION_S must be an integer >= 5"
[[ $reps =~ ^[0-9]+$ && $reps -ge 1 ]] || die "REPETITIONS must be a positive integer"
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
[[ -x $timev ]] || die "$timev missing: apt-get install time"
for tool in gst-launch-1.0 ffprobe ffmpeg pgrep; do
    command -v "$tool" >/dev/null || die "$tool missing"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
results=$out/results.tsv
latency=$out/latency.tsv
summary=$out/summary.md

# The measured process and its time(1) parent while one runs; killed on an early exit.
cur_child=""
cur_parent=""
cleanup() {
    [[ -z $cur_child ]] || kill -KILL "$cur_child" 2>/dev/null || true
    [[ -z $cur_parent ]] || kill -KILL "$cur_parent" 2>/dev/null || true
    rm -f "$sock"
}
trap cleanup EXIT

# ---------- helpers ----------

# Busy and total jiffies of the whole machine, from /proc/stat.
cpu_jiffies() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# One numeric field of a `time -v` report.
timev_field() {
    awk -F': ' -v k="$2" 'index($0, k) { gsub(/^[ \t]+/, "", $2); print $2; exit }' "$1"
}

now() { date +%s.%N; }

# RFC3339 UTC timestamp of the first log line matching an extended regex (ANSI colours stripped).
log_ts() {
    sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -E -m1 -- "$2" | awk '{ print $1 }' || true
}

# Epoch seconds of an RFC3339 timestamp.
epoch() { date -u -d "$1" +%s.%N; }

# Milliseconds from epoch a to epoch b.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# shellcheck source=benches/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Column NAME of results.tsv for rows of kind KIND.
col() {
    awk -F'\t' -v k="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) n = i; next }
        $2 == k { print $n }' "$results"
}

# Wait until the child of PARENT exists; print its pid.
child_of() {
    local parent=$1 pid="" i
    for i in $(seq 1 500); do
        pid=$(pgrep -P "$parent" | head -n1 || true)
        [[ -n $pid ]] && break
        sleep 0.01
        : "$i"
    done
    [[ -n $pid ]] || die "no child process of $parent"
    echo "$pid"
}

# Wait up to $3 seconds for a line matching $2 in log $1.
wait_log() {
    local file=$1 pattern=$2 deadline
    deadline=$(($(date +%s) + $3))
    until sed 's/\x1b\[[0-9;]*m//g' "$file" 2>/dev/null | grep -qE -- "$pattern"; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.02
    done
}

# Bytes, media seconds, video packets and decode verdict of .ts files ($@).
# Each file is decoded on its own with ffmpeg, video and audio separately; any error
# message fails the check. A file whose PMT has an audio stream but which holds no audio
# packet (a tail segment of a frame or two) cannot have its audio decoded at all: it is
# counted, not failed, and the verdict reads ok+N-without-audio.
# Packets of stream $2 (v:0, a:0) in file $1; 0 when there is no such stream.
packets() {
    local listing
    listing=$(ffprobe -v error -select_streams "$2" -count_packets \
        -show_entries stream=nb_read_packets -of csv=p=0 "$1" || true)
    awk '/^[0-9]+$/ { n = $1; exit } END { print n + 0 }' <<<"$listing"
}

media_check() {
    local bytes=0 secs=0 vpk=0 noaudio=0 fail=0 f d p a err verdict
    for f in "$@"; do
        bytes=$((bytes + $(stat -c %s "$f")))
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f")
        secs=$(awk -v a="$secs" -v b="$d" 'BEGIN { printf "%.3f", a + b }')
        p=$(packets "$f" v:0)
        a=$(packets "$f" a:0)
        vpk=$((vpk + p))
        err=$(ffmpeg -nostdin -v error -i "$f" -map 0:v:0 -f null - 2>&1 || echo "ffmpeg failed (video)")
        if ((a > 0)); then
            err+=$(ffmpeg -nostdin -v error -i "$f" -map 0:a:0 -f null - 2>&1 || echo "ffmpeg failed (audio)")
        else
            noaudio=$((noaudio + 1))
        fi
        if [[ -n $err || $p -eq 0 ]]; then
            fail=$((fail + 1))
            printf '%s\n' "$err" >"$f.decode-errors"
        fi
    done
    if (($# == 0 || fail > 0)); then
        verdict=FAIL
    elif ((noaudio > 0)); then
        verdict=ok+$noaudio-without-audio
    else
        verdict=ok
    fi
    echo "$bytes $secs $vpk $verdict"
}

write_config() { # file storage_dir socket
    cat >"$1" <<EOF
# Written by benches/recorder.sh
[camera]
source = "simulated"
width = $width
height = $height
framerate = 30
bitrate_kbps = $bitrate
encoder = "x264"
pattern = "$pattern"

[audio]
enabled = true

[recording]
segment_seconds = 60
pre_event_seconds = 30
pre_event_audio = false

[storage]
path = "$2"

[ctl]
socket = "$3"
EOF
}

# ---------- the pipelines ----------

write_config "$out/bodycam.toml" "$out/data-probe" "$sock"
desc=$("$bodycam" pipeline --config "$out/bodycam.toml")
printf '%s\n' "$desc" >"$out/pipeline-daemon.txt"
grep -q 'appsink name=vsink' <<<"$desc" || die "pipeline has no appsink vsink: $desc"
grep -q 'appsink name=asink' <<<"$desc" || die "pipeline has no appsink asink: $desc"

# appsink vsink -> the muxer and the file; appsink asink -> into the muxer.
bare=$(sed -E \
    -e 's/appsink name=vsink( +[A-Za-z0-9_-]+=[^ !]+)*/mpegtsmux name=mux ! filesink sync=false location=@OUT@/' \
    -e 's/appsink name=asink( +[A-Za-z0-9_-]+=[^ !]+)*/mux./' <<<"$desc")
# Same, with a clockoverlay (once-a-second text: the daemon's first line) in front of the
# encoder's queue, where the daemon's probe draws.
grep -q 'queue name=vq ' <<<"$bare" || die "no queue named vq in the pipeline: $bare"
clock_txt="font-desc=\"Monospace $clock_font\" halignment=left valignment=top shaded-background=true"
clock=${bare/queue name=vq /clockoverlay time-format=\"%Y-%m-%d %H:%M:%S UTC  CAM 6857D7CB\" $clock_txt ! queue name=vq }
printf '%s\n' "$bare" >"$out/pipeline-bare.txt"
printf '%s\n' "$clock" >"$out/pipeline-clock.txt"

# ---------- one measured run ----------

printf 'run\tkind\tround\tuser_s\tsys_s\tcpu_s\tmaxrss_kb\twall_s\tbytes\tmedia_s\tvideo_packets\tbytes_per_s\tdecode\tother_cores\tloadavg1\tctl_start_ms\n' >"$results"

# Writes one results.tsv row. Arguments: run kind round tfile wall j0 j1 media_check-output [ctl_ms]
record_row() {
    local run=$1 kind=$2 round=$3 tfile=$4 wall=$5 b0=$6 t0=$7 b1=$8 t1=$9 m=${10} ctl_ms=${11:--}
    local user sys maxrss bytes secs vpk ok
    user=$(timev_field "$tfile" "User time (seconds)")
    sys=$(timev_field "$tfile" "System time (seconds)")
    maxrss=$(timev_field "$tfile" "Maximum resident set size (kbytes)")
    read -r bytes secs vpk ok <<<"$m"
    awk -v OFS='\t' -v run="$run" -v kind="$kind" -v round="$round" -v u="$user" -v s="$sys" \
        -v rss="$maxrss" -v wall="$wall" -v bytes="$bytes" -v secs="$secs" -v vpk="$vpk" \
        -v ok="$ok" -v b0="$b0" -v t0="$t0" -v b1="$b1" -v t1="$t1" -v ctl="$ctl_ms" \
        -v la="$(cut -d' ' -f1 /proc/loadavg)" -v hz="$(getconf CLK_TCK)" 'BEGIN {
            busy = (b1 - b0) / hz
            other = (busy - u - s) / wall
            if (other < 0) other = 0
            bps = secs > 0 ? bytes / secs : 0
            print run, kind, round, u, s, u + s, rss, sprintf("%.2f", wall), bytes, secs, vpk,
                sprintf("%.0f", bps), ok, sprintf("%.2f", other), la, ctl
        }' >>"$results"
}

run_pipeline() { # kind round
    local kind=$1 round=$2 run="$1-$2" text file tfile gpid tpid start wall b0 t0 b1 t1 m
    local -a args
    file=$out/$run.ts
    tfile=$out/$run.time
    if [[ $kind == bare ]]; then text=$bare; else text=$clock; fi
    text=${text//@OUT@/$file}
    # gst-launch escapes each argv word itself: split the description into words the way
    # a shell would (xargs keeps font-desc="Monospace 30" as one word).
    mapfile -d '' -t args < <(printf '%s' "$text" | xargs printf '%s\0')
    read -r b0 t0 < <(cpu_jiffies)
    start=$(now)
    "$timev" -v -o "$tfile" gst-launch-1.0 -e "${args[@]}" >"$out/$run.log" 2>&1 &
    tpid=$!
    cur_parent=$tpid
    gpid=$(child_of "$tpid")
    cur_child=$gpid
    sleep "$duration"
    kill -INT "$gpid"
    wait "$tpid" || die "$run: gst-launch failed, see $out/$run.log"
    cur_parent="" cur_child=""
    wall=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')
    read -r b1 t1 < <(cpu_jiffies)
    m=$(media_check "$file")
    [[ $keep_media == 1 ]] || rm -f "$file"
    record_row "$run" "$kind" "$round" "$tfile" "$wall" "$b0" "$t0" "$b1" "$t1" "$m"
    log "$run: $(tail -n1 "$results" | cut -f4-13)"
}

run_daemon() { # round
    local round=$1 run="daemon-$1" cfg data dlog tfile tpid dpid start wall b0 t0 b1 t1 m ctl_ms t_cmd t_rec
    local -a segs
    cfg=$out/$run.toml
    data=$out/$run-data
    dlog=$out/$run.log
    tfile=$out/$run.time
    rm -rf "$data"
    write_config "$cfg" "$data" "$sock"
    read -r b0 t0 < <(cpu_jiffies)
    start=$(now)
    "$timev" -v -o "$tfile" "$bodycam" run --config "$cfg" 2>"$dlog" &
    tpid=$!
    cur_parent=$tpid
    dpid=$(child_of "$tpid")
    cur_child=$dpid
    wait_log "$dlog" 'state change .*to="ready"' 30 || die "$run: daemon not ready in 30 s, see $dlog"
    "$bodycam" ctl --config "$cfg" record start >/dev/null
    sleep "$duration"
    kill -TERM "$dpid"
    wait "$tpid" || die "$run: daemon did not exit 0 on SIGTERM, see $dlog"
    cur_parent="" cur_child=""
    wall=$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')
    read -r b1 t1 < <(cpu_jiffies)
    t_cmd=$(log_ts "$dlog" 'control command command=Start')
    t_rec=$(log_ts "$dlog" 'recording started')
    ctl_ms=-
    [[ -n $t_cmd && -n $t_rec ]] && ctl_ms=$(ms "$(epoch "$t_cmd")" "$(epoch "$t_rec")")
    mapfile -t segs < <(find "$data/recordings" -name '*.ts' | sort)
    m=$(media_check "${segs[@]}")
    [[ $keep_media == 1 ]] || rm -f "${segs[@]}"
    record_row "$run" daemon "$round" "$tfile" "$wall" "$b0" "$t0" "$b1" "$t1" "$m" "$ctl_ms"
    log "$run: $(tail -n1 "$results" | cut -f4-13) segments=${#segs[@]}"
}

# ---------- latency trials ----------

printf 'trial\tspawn_to_ready_ms\trelease_to_recognised_ms\trecognised_to_gesture_ms\tgesture_to_state_ms\tgesture_to_started_ms\trelease_to_started_ms\tpre_event_s\tmaxrss_kb\tpre_event_bytes\n' >"$latency"

latency_trial() { # n
    local n=$1 run="latency-$1" cfg data dlog tfile tpid dpid spawn t_ready t_act t_rel t_recog t_gest t_state t_start pre rss pre_bytes
    cfg=$out/$run.toml
    data=$out/$run-data
    dlog=$out/$run.log
    tfile=$out/$run.time
    rm -rf "$data"
    write_config "$cfg" "$data" "$sock"
    # Spawn time is taken just before exec (of time(1), which forks bodycam at once).
    # Debug logs of bodycam::controls give the first injected edge and the recognition.
    (
        date +%s.%N >"$out/$run.spawn"
        BODYCAM_LOG="info,bodycam::controls=debug" exec "$timev" -v -o "$tfile" \
            "$bodycam" run --config "$cfg" 2>"$dlog"
    ) &
    tpid=$!
    cur_parent=$tpid
    dpid=$(child_of "$tpid")
    cur_child=$dpid
    wait_log "$dlog" 'state change .*to="ready"' 30 || die "$run: daemon not ready in 30 s, see $dlog"
    sleep "$lat_fill"
    pre_bytes=$("$bodycam" ctl --config "$cfg" status --json |
        sed -nE 's/.*"pre_event_buffered_bytes": *([0-9]+).*/\1/p')
    "$bodycam" ctl --config "$cfg" button double >/dev/null
    wait_log "$dlog" 'recording started' 10 || die "$run: no recording after the gesture, see $dlog"
    sleep 3
    kill -TERM "$dpid"
    wait "$tpid" || die "$run: daemon did not exit 0 on SIGTERM, see $dlog"
    cur_parent="" cur_child=""
    spawn=$(cat "$out/$run.spawn")
    t_ready=$(epoch "$(log_ts "$dlog" 'state change .*to="ready"')")
    # The simulated double press: 120 ms press, 150 ms gap, 120 ms press, from the first edge.
    t_act=$(epoch "$(log_ts "$dlog" 'simulated button action')")
    t_rel=$(awk -v a="$t_act" 'BEGIN { printf "%.6f", a + 0.390 }')
    t_recog=$(epoch "$(log_ts "$dlog" 'gesture recognised')")
    t_gest=$(epoch "$(log_ts "$dlog" 'button gesture gesture="double"')")
    t_state=$(epoch "$(log_ts "$dlog" 'state change from="ready" to="recording"')")
    t_start=$(epoch "$(log_ts "$dlog" 'recording started')")
    pre=$(sed 's/\x1b\[[0-9;]*m//g' "$dlog" | grep -m1 'recording started' | sed -E 's/.*pre_event_seconds=([0-9.]+).*/\1/')
    rss=$(timev_field "$tfile" "Maximum resident set size (kbytes)")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$(ms "$spawn" "$t_ready")" \
        "$(ms "$t_rel" "$t_recog")" "$(ms "$t_recog" "$t_gest")" "$(ms "$t_gest" "$t_state")" \
        "$(ms "$t_gest" "$t_start")" "$(ms "$t_rel" "$t_start")" "$pre" "$rss" "${pre_bytes:--}" >>"$latency"
    [[ $keep_media == 1 ]] || find "$data/recordings" -name '*.ts' -delete
    log "$run: $(tail -n1 "$latency" | cut -f2-)"
}

# ---------- run ----------

{
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cpus: $(nproc)"
    echo "mem: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel: $(uname -r)"
    echo "gstreamer: $(gst-launch-1.0 --version | sed -n 2p)"
    echo "x264enc: $(gst-inspect-1.0 x264enc 2>/dev/null | awk '/^  Version/ { print $2; exit }')"
    echo "bodycam: $("$bodycam" --version) ($bodycam)"
    if git -C "$repo" rev-parse --short HEAD >/dev/null 2>&1; then
        echo "commit: $(git -C "$repo" rev-parse --short HEAD)"
    fi
    echo "rustc: $(rustc --version 2>/dev/null || echo unknown)"
    echo "loadavg_before: $(cat /proc/loadavg)"
    echo "duration_s: $duration  repetitions: $reps  pattern: $pattern  resolution: ${width}x${height}@30 ${bitrate} kbit/s  latency_trials: $lat_trials"
} >"$out/machine.txt"
log "results in $out"

for r in $(seq 1 "$reps"); do
    run_pipeline bare "$r"
    run_pipeline clock "$r"
    run_daemon "$r"
done
for n in $(seq 1 "$lat_trials"); do
    latency_trial "$n"
done
echo "loadavg_after: $(cat /proc/loadavg)" >>"$out/machine.txt"

# ---------- summary ----------

# Per round: daemon/bare and daemon/clock CPU ratios, daemon - bare RSS in MB.
pairs=$(awk -F'\t' 'NR > 1 { cpu[$2, $3] = $6; rss[$2, $3] = $7; if ($3 > n) n = $3 }
    END { for (r = 1; r <= n; r++)
        printf "%.4f %.4f %.2f\n", cpu["daemon", r] / cpu["bare", r], cpu["daemon", r] / cpu["clock", r],
            (rss["daemon", r] - rss["bare", r]) / 1024 }' "$results")
bare_rss_med=$(col bare maxrss_kb | stats | cut -d' ' -f1)

row() { # label "median min max" target verdict
    local med lo hi
    read -r med lo hi <<<"$2"
    printf '| %s | %s | %s – %s | %s | %s |\n' "$1" "$med" "$lo" "$hi" "$3" "$4"
}
verdict() { # "median min max" limit -> met / MISSED (by the median; worst case noted)
    local med lo hi
    read -r med lo hi <<<"$1"
    [[ $med == - ]] && { echo "n/a"; return; }
    awk -v m="$med" -v h="$hi" -v l="$2" 'BEGIN {
        if (m <= l && h <= l) print "met"; else if (m <= l) print "met (median; worst case over)"; else print "MISSED" }'
}

cpu_ratio=$(awk '{ print $1 }' <<<"$pairs" | stats)
cpu_ratio_clock=$(awk '{ print $2 }' <<<"$pairs" | stats)
rss_diff=$(awk '{ print $3 }' <<<"$pairs" | stats)
rss_full=$(awk -F'\t' -v b="$bare_rss_med" 'NR > 1 { printf "%.2f\n", ($9 - b) / 1024 }' "$latency" | stats)
# Issue 10's target: daemon RSS <= bare + the buffered footage + 8 MB, i.e. this <= 8.
rss_over_buffer=$(awk -F'\t' -v b="$bare_rss_med" 'NR > 1 && $10 ~ /^[0-9]+$/ {
    printf "%.2f\n", ($9 - b) / 1024 - $10 / 1048576 }' "$latency" | stats)
pre_mb=$(awk -F'\t' 'NR > 1 && $10 ~ /^[0-9]+$/ { printf "%.2f\n", $10 / 1048576 }' "$latency" | stats)
lat() { awk -F'\t' -v c="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) n = i; next } { print $n }' "$latency" | stats; }
ready=$(lat spawn_to_ready_ms)
g_state=$(lat gesture_to_state_ms)
g_start=$(lat gesture_to_started_ms)

{
    echo "## Recorder benchmark: ${duration} s x ${reps} rounds, pattern=${pattern}"
    echo
    sed 's/^/    /' "$out/machine.txt"
    echo
    echo "| metric | median | range (min – max) | target | verdict |"
    echo "| --- | --- | --- | --- | --- |"
    row "CPU daemon / pipeline + clockoverlay" "$cpu_ratio_clock" "≤ 1.05" "$(verdict "$cpu_ratio_clock" 1.05)"
    row "CPU daemon / bare pipeline (no overlay)" "$cpu_ratio" "(diagnostic)" "-"
    row "RSS daemon − bare, MB (record at once)" "$rss_diff" "≤ 15" "$(verdict "$rss_diff" 15)"
    row "RSS daemon with full 30 s pre-event buffer − bare median, MB" "$rss_full" "-" "-"
    row "pre-event buffer bytes when full, MB" "$pre_mb" "-" "-"
    row "RSS daemon (buffer full) − bare median − buffer bytes, MB" "$rss_over_buffer" "≤ 8" "$(verdict "$rss_over_buffer" 8)"
    row "daemon spawn → ready, ms" "$ready" "≤ 1500" "$(verdict "$ready" 1500)"
    row "gesture → state recording, ms" "$g_state" "≤ 50" "$(verdict "$g_state" 50)"
    row "gesture → recording started, ms" "$g_start" "≤ 50" "$(verdict "$g_start" 50)"
    row "simulated release → gesture recognised, ms (multi-press window 350)" "$(lat release_to_recognised_ms)" "-" "-"
    row "gesture recognised → daemon loop, ms" "$(lat recognised_to_gesture_ms)" "-" "-"
    row "last release → recording started, ms (incl. 350 ms window)" "$(lat release_to_started_ms)" "-" "-"
    row "ctl record start → recording started, ms" "$(col daemon ctl_start_ms | stats)" "-" "-"
    for k in bare clock daemon; do
        row "$k: CPU s (user+sys)" "$(col "$k" cpu_s | stats)" "-" "-"
        row "$k: max RSS, MB" "$(col "$k" maxrss_kb | awk '{ print $1 / 1024 }' | stats)" "-" "-"
        row "$k: bytes written per media second" "$(col "$k" bytes_per_s | stats)" "-" "-"
        row "$k: media seconds" "$(col "$k" media_s | stats)" "-" "-"
        row "$k: other load during run, cores" "$(col "$k" other_cores | stats)" "-" "-"
    done
    echo
    echo "Decode check (ffmpeg, every file): $(awk -F'\t' 'NR > 1 { n++; if ($13 ~ /^ok/) ok++; if ($13 != "ok") odd = odd " " $1 "=" $13 }
        END { printf "%d of %d runs ok%s", ok, n, odd ? " (not plain ok:" odd ")" : "" }' "$results")"
    echo
    echo "Per-run rows: results.tsv; latency trials: latency.tsv."
} >"$summary"
cat "$summary"

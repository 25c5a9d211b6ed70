#!/usr/bin/env bash
# Overlay candidates (issue 10): CPU time (user+sys) of gst-launch-1.0 pipelines that burn a
# ~46-character date/time/camera/officer line into raw video, against the same pipeline
# without an overlay, at 720p30 and 1080p30, in I420 (x264 path) and NV12 (libcamera's
# format; no conversion is added), with the capture encoder and with the encoder replaced
# by a fakesink (the overlay's own cost). Rounds are interleaved and each round rotates
# the candidates' order; results are medians and ranges of per-round ratios.
#
# Usage:
#   benches/overlay.sh [FRAMES [ROUNDS [OUT_DIR]]]
#     FRAMES   frames per run, live at 30 fps (default 300 = 10 s)
#     ROUNDS   interleaved rounds (default 5)
#     OUT_DIR  default ./bench-out/overlay-<UTC time>
#   Environment:
#     RESOLUTIONS="720 1080"  FORMATS="I420 NV12"  SINKS="enc raw"
#     PATTERN=ball            videotestsrc pattern (ball is the simulated camera's default)
#     SOURCE=test|libcamera   test: videotestsrc (default). libcamera: the camera through
#                             libcamerasrc, ended by `identity eos-after=FRAMES`, for a run on
#                             the device (not exercised here: this machine has no camera)
#     CANDIDATES="..."        subset, default: all that can run (see below)
#     HARNESS=path            the harness that runs a description with the daemon's own
#                             overlay probe (examples/overlay_harness.rs; default
#                             <repo>/target/release/examples/overlay_harness, built with
#                             `cargo build --release --example overlay_harness`). Without
#                             it only the stock candidates run.
#     SNAPSHOTS=0             skip the one-frame PNG of each candidate (default 1)
#   Needs: gst-launch-1.0 (plugins base/good/ugly, gstreamer1.0-x for the text overlays,
#   gdkpixbufoverlay from plugins-good), ffmpeg for the snapshots.
#
# Candidates (all draw the same line, same font and place, shaded box):
#   none     no overlay (the baseline of every ratio)
#   clock    clockoverlay with time-format "%Y-%m-%d %H:%M:%S UTC  CAM …  OFC …": the stock
#            once-a-second overlay; it re-renders only when its string changes, but blends
#            (and shades) the cached image into every frame
#   text     textoverlay with a static text: the lower bound of "textoverlay fed once a
#            second" (render once, blend every frame)
#   time     timeoverlay: text re-rendered on every frame, i.e. what the simulated camera's
#            OSD does today (the daemon sets a new text per frame); a reference, not a candidate
#   pixbuf   gdkpixbufoverlay with the line pre-rendered into an RGBA PNG (box + text):
#            no text rendering at all, GStreamer's generic overlay blend on every frame
#   With the harness (HARNESS):
#   hnone    the harness with no probe (checks that it costs what gst-launch costs)
#   rust     the daemon's overlay (src/capture/overlay.rs) on an identity: box composed
#            once a second from the hand-drawn 5x7 font, copied into every frame (I420 and
#            NV12 in place), at the daemon's scale (2 at 720p, 3 at 1080p); its text is the
#            daemon's: date, time, CAM and OFC (and CLOCK NOT SYNCHRONISED when it is not)
#   The candidates map/settext/compo/glyph/line/opaque of the first measurement
#   (docs/PERFORMANCE.md, "Overlay candidates") came from an out-of-tree C prototype
#   harness and are no longer run.
# Timings are never asserted: the script only measures and writes results.tsv and summary.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=benches/lib.sh
source "$here/lib.sh"
frames=${1:-300}
rounds=${2:-5}
out=${3:-"./bench-out/overlay-$(date -u +%Y%m%dT%H%M%SZ)"}
resolutions=${RESOLUTIONS:-"720 1080"}
formats=${FORMATS:-"I420 NV12"}
sinks=${SINKS:-"enc raw"}
pattern=${PATTERN:-ball}
source_kind=${SOURCE:-test}
harness=${HARNESS:-"$repo/target/release/examples/overlay_harness"}
snapshots=${SNAPSHOTS:-1}

die() {
    echo "overlay.sh: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

[[ $frames =~ ^[0-9]+$ && $frames -ge 30 ]] || die "FRAMES must be an integer >= 30"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "ROUNDS must be a positive integer"
[[ $source_kind == test || $source_kind == libcamera ]] || die "SOURCE must be test or libcamera"
command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 missing"
for e in clockoverlay textoverlay timeoverlay gdkpixbufoverlay x264enc h264parse; do
    gst-inspect-1.0 "$e" >/dev/null 2>&1 || die "GStreamer element $e missing"
done
if [[ $source_kind == libcamera ]]; then
    gst-inspect-1.0 libcamerasrc >/dev/null 2>&1 || die "SOURCE=libcamera needs libcamerasrc (gstreamer1.0-libcamera)"
fi
if [[ -x $harness ]]; then
    default_cands="none clock text time pixbuf hnone rust"
else
    default_cands="none clock text time pixbuf"
fi
cands=${CANDIDATES:-$default_cands}
[[ " $cands " == *" none "* ]] || die "CANDIDATES must include none (the baseline)"

mkdir -p "$out/frames"
out=$(cd "$out" && pwd)
results=$out/results.tsv
summary=$out/summary.md

cur=""
cleanup() { [[ -z $cur ]] || kill -KILL "$cur" 2>/dev/null || true; }
trap cleanup EXIT

cpu_jiffies() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}
now() { date +%s.%N; }

# The line every candidate draws (46 characters); clockoverlay and the harness put the
# current UTC time where this has 2026-11-27 21:45:07.
line_text="2026-11-27 21:45:07 UTC  CAM BC-7F3A  OFC 4711"
clock_format="%Y-%m-%d %H:%M:%S UTC  CAM BC-7F3A  OFC 4711"
# timeoverlay appends " H:MM:SS.mmm" (12 characters) to its text.
time_prefix="2026-11-27  CAM BC-7F3A  OFC 4711"

# Per resolution: width height font_pt font_px pad box_w box_h bitrate_kbps
# (font 18 pt = 24 px at 96 dpi; the box is what the harness's 46-character line takes:
# DejaVu Sans Mono cells of 14x29 px / 22x43 px plus margins).
geometry() {
    case $1 in
    720) echo "1280 720 18 24 12 652 38 3000" ;;
    1080) echo "1920 1080 27 36 18 1024 56 6000" ;;
    *) die "resolution $1: only 720 and 1080" ;;
    esac
}

# Pre-rendered RGBA line for gdkpixbufoverlay: a semi-transparent black box with the
# text, rendered once by textoverlay (the file is what a daemon would render once a second).
make_png() { # res
    local w h pt px pad bw bh br png
    read -r w h pt px pad bw bh br < <(geometry "$1")
    png=$out/line-$1.png
    gst-launch-1.0 -q videotestsrc num-buffers=1 pattern=solid-color foreground-color=0x92000000 \
        ! "video/x-raw,format=BGRA,width=$bw,height=$bh" \
        ! textoverlay text="$line_text" font-desc="DejaVu Sans Mono $pt" auto-resize=false \
        halignment=left valignment=top xpad=$((px / 6)) ypad=$((px / 8)) draw-shadow=false \
        ! videoconvert ! video/x-raw,format=RGBA ! pngenc ! filesink location="$png" ||
        die "cannot pre-render $png"
}

# Pipeline description for one run. Arguments: cand res fmt sink nframes pattern [outfile]
describe() {
    local cand=$1 res=$2 fmt=$3 sink=$4 n=$5 pat=$6 file=${7:-}
    local w h pt px pad bw bh br src txt ovl tail
    read -r w h pt px pad bw bh br < <(geometry "$res")
    if [[ $source_kind == libcamera ]]; then
        src="libcamerasrc ! video/x-raw,format=$fmt,width=$w,height=$h,framerate=30/1 ! identity eos-after=$n"
    else
        src="videotestsrc is-live=true num-buffers=$n pattern=$pat ! video/x-raw,format=$fmt,width=$w,height=$h,framerate=30/1"
    fi
    txt="font-desc=\"DejaVu Sans Mono $pt\" auto-resize=false halignment=left valignment=top xpad=$pad ypad=$pad shaded-background=true"
    case $cand in
    none | hnone) ovl="" ;;
    clock) ovl="clockoverlay time-format=\"$clock_format\" $txt" ;;
    text) ovl="textoverlay text=\"$line_text\" $txt" ;;
    time) ovl="timeoverlay text=\"$time_prefix\" $txt" ;;
    pixbuf) ovl="gdkpixbufoverlay location=$out/line-$res.png offset-x=$pad offset-y=$pad" ;;
    settext) ovl="textoverlay name=ovl $txt" ;;
    compo) ovl="overlaycomposition name=ovl" ;;
    rust) ovl="identity name=ovl" ;;
    *) die "unknown candidate $cand" ;;
    esac
    local enc="x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bitrate=$br ! video/x-h264,profile=constrained-baseline ! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au"
    case $sink in
    enc) tail="queue max-size-buffers=4 leaky=no ! $enc ! fakesink sync=false" ;;
    raw) tail="queue max-size-buffers=4 leaky=no ! fakesink sync=false" ;;
    file) tail="queue max-size-buffers=4 leaky=no ! $enc ! mpegtsmux ! filesink location=$file" ;;
    esac
    if [[ -n $ovl ]]; then echo "$src ! $ovl ! $tail"; else echo "$src ! $tail"; fi
}

harness_mode() {
    case $1 in
    hnone) echo none ;;
    rust) echo "$1" ;;
    *) echo "" ;;
    esac
}

# Runs one description; prints "wall user sys probe_us" on stdout. CPU times come from
# bash's `time` (getrusage of the waited child: millisecond resolution, where GNU time's
# is 10 ms).
run_desc() { # cand res desc logfile expected_frames
    local cand=$1 desc=$3 logf=$4 want=$5 tfile mode
    local -a args
    tfile=$logf.time
    mode=$(harness_mode "$cand")
    if [[ -n $mode ]]; then
        (
            TIMEFORMAT='%3R %3U %3S'
            time "$harness" "$mode" "$desc" >"$logf" 2>&1
        ) 2>"$tfile" &
    else
        # gst-launch escapes each argv word itself: split the description the way a shell
        # would (xargs keeps font-desc="DejaVu Sans Mono 18" as one word).
        mapfile -d '' -t args < <(printf '%s' "$desc" | xargs printf '%s\0')
        (
            TIMEFORMAT='%3R %3U %3S'
            time gst-launch-1.0 "${args[@]}" >"$logf" 2>&1
        ) 2>"$tfile" &
    fi
    cur=$!
    wait "$cur" || die "$cand failed, see $logf"
    cur=""
    local probe=-
    if [[ -n $mode ]]; then
        probe=$(sed -n 's/.*probe_us_per_frame=\([0-9.]*\).*/\1/p' "$logf")
        local got
        got=$(sed -n 's/.*frames=\([0-9]*\) .*/\1/p' "$logf")
        [[ $mode == none || $got == "$want" ]] ||
            die "$cand: harness saw $got frames, expected $want (see $logf)"
    fi
    echo "$(tail -n1 "$tfile") $probe"
}

printf 'round\tres\tformat\tsink\tcandidate\twall_s\tuser_s\tsys_s\tcpu_s\tprobe_us_per_frame\tother_cores\tloadavg1\n' >"$results"

one_run() { # round res fmt sink cand
    local round=$1 res=$2 fmt=$3 sink=$4 cand=$5 desc b0 b1 wall user sys probe
    desc=$(describe "$cand" "$res" "$fmt" "$sink" "$frames" "$pattern")
    read -r b0 _ < <(cpu_jiffies)
    read -r wall user sys probe < <(run_desc "$cand" "$res" "$desc" "$out/log-$round-$res-$fmt-$sink-$cand" "$frames")
    read -r b1 _ < <(cpu_jiffies)
    awk -v OFS='\t' -v r="$round" -v res="$res" -v f="$fmt" -v s="$sink" -v c="$cand" \
        -v wall="$wall" -v u="$user" -v sy="$sys" -v p="$probe" \
        -v b0="$b0" -v b1="$b1" -v hz="$(getconf CLK_TCK)" -v la="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
            other = wall > 0 ? ((b1 - b0) / hz - u - sy) / wall : 0
            if (other < 0) other = 0
            print r, res, f, s, c, wall, u, sy, u + sy, p, sprintf("%.2f", other), la
        }' >>"$results"
}

{
    echo "date_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cpus: $(nproc)"
    echo "kernel: $(uname -r)"
    echo "gstreamer: $(gst-launch-1.0 --version | sed -n 2p)"
    if git -C "$repo" rev-parse --short HEAD >/dev/null 2>&1; then
        echo "commit: $(git -C "$repo" rev-parse --short HEAD)"
    fi
    echo "harness: $([[ -x $harness ]] && echo "$harness" || echo none)"
    echo "loadavg_before: $(cat /proc/loadavg)"
    echo "source: $source_kind"
    echo "frames: $frames  rounds: $rounds  pattern: $pattern  resolutions: $resolutions  formats: $formats  sinks: $sinks"
    echo "candidates: $cands"
} >"$out/machine.txt"
log "results in $out"

for res in $resolutions; do make_png "$res"; done
read -r -a cand_list <<<"$cands"
ncand=${#cand_list[@]}

# One frame of each candidate, encoded and decoded back with ffmpeg, to look at.
if [[ $snapshots == 1 ]] && command -v ffmpeg >/dev/null; then
    for res in $resolutions; do
        for fmt in $formats; do
            for cand in "${cand_list[@]}"; do
                ts=$out/frames/$cand-$res-$fmt.ts
                run_desc "$cand" "$res" "$(describe "$cand" "$res" "$fmt" file 45 smpte "$ts")" \
                    "$out/frames/$cand-$res-$fmt.log" 45 >/dev/null
                ffmpeg -nostdin -v error -y -i "$ts" -frames:v 1 "$out/frames/$cand-$res-$fmt.png"
                rm -f "$ts"
            done
        done
    done
    log "snapshots in $out/frames"
fi

for round in $(seq 1 "$rounds"); do
    for res in $resolutions; do
        for fmt in $formats; do
            for sink in $sinks; do
                # Rotate the order each round so that no candidate always runs first.
                for i in $(seq 0 $((ncand - 1))); do
                    cand=${cand_list[$(((i + round - 1) % ncand))]}
                    one_run "$round" "$res" "$fmt" "$sink" "$cand"
                done
                log "round $round $res $fmt $sink done"
            done
        done
    done
done
echo "loadavg_after: $(cat /proc/loadavg)" >>"$out/machine.txt"

# ---------- summary ----------
cpu_of() { # res fmt sink cand -> "round cpu" lines
    awk -F'\t' -v r="$1" -v f="$2" -v s="$3" -v c="$4" \
        'NR > 1 && $2 == r && $3 == f && $4 == s && $5 == c { print $1, $9 }' "$results"
}
per_round() { # res fmt sink cand expr -> values per round; expr uses c (candidate) and b (baseline)
    join <(cpu_of "$1" "$2" "$3" "$4" | sort -k1,1) <(cpu_of "$1" "$2" "$3" none | sort -k1,1) |
        awk -v n="$frames" "{ c = \$2; b = \$3; print $5 }"
}
fmt3() { # "median min max" [decimals]
    local med lo hi
    read -r med lo hi <<<"$1"
    [[ $med == - ]] && { echo "-"; return; }
    awk -v m="$med" -v l="$lo" -v h="$hi" -v d="${2:-2}" 'BEGIN { printf "%.*f [%.*f – %.*f]", d, m, d, l, d, h }'
}
{
    echo "## Overlay candidates: $frames frames x $rounds rounds, pattern=$pattern"
    echo
    sed 's/^/    /' "$out/machine.txt"
    for res in $resolutions; do
        for fmt in $formats; do
            for sink in $sinks; do
                echo
                echo "### ${res}p30 $fmt, $([[ $sink == enc ]] && echo "x264 encoder" || echo "encoder excluded (fakesink after the overlay)")"
                echo
                echo "| candidate | CPU s (user+sys) | ratio to none | overlay CPU ms/frame | probe µs/frame |"
                echo "| --- | --- | --- | --- | --- |"
                for cand in "${cand_list[@]}"; do
                    cpu=$(cpu_of "$res" "$fmt" "$sink" "$cand" | awk '{ print $2 }' | stats)
                    ratio=$(per_round "$res" "$fmt" "$sink" "$cand" 'c / b' | stats)
                    ms=$(per_round "$res" "$fmt" "$sink" "$cand" '(c - b) * 1000 / n' | stats)
                    probe=$(awk -F'\t' -v r="$res" -v f="$fmt" -v s="$sink" -v c="$cand" \
                        'NR > 1 && $2 == r && $3 == f && $4 == s && $5 == c && $10 != "-" { print $10 }' "$results" | stats)
                    printf '| %s | %s | %s | %s | %s |\n' "$cand" "$(fmt3 "$cpu")" "$(fmt3 "$ratio" 3)" \
                        "$(fmt3 "$ms" 3)" "$(fmt3 "$probe" 1)"
                done
            done
        done
    done
    echo
    echo "Other processes' load during the runs, cores: $(awk -F'\t' 'NR > 1 { print $11 }' "$results" | stats)"
    echo
    echo "Per-run rows: results.tsv; one decoded frame per candidate: frames/*.png."
} >"$summary"
cat "$summary"

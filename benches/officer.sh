#!/usr/bin/env bash
# Officer-features benchmark (issue 13): trigger input to the `recording` state, peer
# start latency from one camera to another on loopback, and the recorder's CPU with
# gpsd and peers enabled against without, as a ratio.
#
# Usage:
#   benches/officer.sh [TRIALS [CPU_SECONDS [OUT_DIR]]]
#     TRIALS       trigger and peer latency trials                    (default 20)
#     CPU_SECONDS  seconds recorded per CPU run                       (default 60)
#     OUT_DIR      where configs, logs and results go                 (default ./bench-out/officer-<UTC time>)
#   Environment:
#     BODYCAM=path   bodycam binary (default <repo>/target/release/bodycam; `cargo build --release`)
#     ROUNDS=N       interleaved CPU rounds of (plain, gpsd+peers)       (default 3; 0 skips the CPU part)
#   Needs (as root): ip (network namespaces), /usr/bin/time (GNU), /usr/bin/python3 with
#   python3-gps and gpsd (scripts/setup.sh installs them).
#
# 1. Trigger latency: a daemon (1280x720@30, the simulated camera, pre_event_seconds 30)
#    waits in `ready`; `ctl trigger holster` is sent on the control socket by a small
#    Python client, which notes the wall-clock time it sent the request (the input) and
#    the time the daemon answered `recording` (after the loop acted on the trigger, the
#    pre-event footage written and signed included). Input → `recording` state is from
#    the send to the daemon's log line `state change … to="recording"` (one clock: the
#    same host); the loop's own part is from its `trigger` line to that line. Then
#    `record stop`, back to ready, 2 s to refill the buffer.
# 2. Peer latency: two daemons with [peers] in a network namespace this script creates
#    (multicast on its private loopback). A starts (`ctl record start`); from A's
#    `state change … to="recording"` to B's is the peer start latency (A's recording is
#    created durably before it announces); from A's "start announced to peers" to B's
#    state change is the network and B's part. Both stop; 2 s; again.
# 3. CPU: one daemon recording CPU_SECONDS, plain, against the same with
#    [location] source = "gpsd" (gpsd fed by gps.fake at 2 fixes/s) and [peers] on
#    (in the namespace), under `time -v`, interleaved ROUNDS times; the ratio of the
#    daemon's user+sys CPU seconds per round, median [min..max]. gpsd's own CPU is not
#    the recorder's and is not counted.
# Timings are never asserted: this script only measures and writes latency.tsv,
# cpu.tsv and summary.md into OUT_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
trials=${1:-20}
cpu_seconds=${2:-60}
out=${3:-"./bench-out/officer-$(date -u +%Y%m%dT%H%M%SZ)"}
bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
rounds=${ROUNDS:-3}
timev=/usr/bin/time
py=/usr/bin/python3
ns=bodycam-bench-$$
group=239.255.66.78:47914

die() {
    echo "officer.sh: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

[[ $trials =~ ^[0-9]+$ && $trials -ge 1 ]] || die "TRIALS must be a positive integer"
[[ $cpu_seconds =~ ^[0-9]+$ && $cpu_seconds -ge 5 ]] || die "CPU_SECONDS must be >= 5"
[[ -x $bodycam ]] || die "no bodycam binary at $bodycam (cargo build --release, or set BODYCAM)"
[[ -x $timev ]] || die "$timev missing: apt-get install time"
[[ -x /usr/sbin/gpsd ]] || die "gpsd missing: apt-get install gpsd"
$py -c 'import gps.fake' 2>/dev/null || die "python3-gps missing: apt-get install python3-gps"
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces)"

mkdir -p "$out"
out=$(cd "$out" && pwd)
latency=$out/latency.tsv
cpu=$out/cpu.tsv
summary=$out/summary.md

# shellcheck source=benches/lib.sh
. "$here/lib.sh"

# Processes this script started, by pid; ended on exit.
pids=()
gpsfake_pgid=""
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 1
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    [[ -z $gpsfake_pgid ]] || kill -TERM -- "-$gpsfake_pgid" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link set lo multicast on

# Epoch seconds (with µs) of the first log line matching an extended regex after line N.
log_epoch() { # file regex [after-line]
    local ts
    ts=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | tail -n +"$((${3:-0} + 1))" | grep -E -m1 -- "$2" | awk '{ print $1 }' || true)
    [[ -n $ts ]] && date -u -d "$ts" +%s.%N
}
lines() { wc -l <"$1"; }
wait_log() { # file regex seconds [after-line]
    local deadline=$(($(date +%s) + $3))
    until sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null | tail -n +"$((${4:-0} + 1))" | grep -qE -- "$2"; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.02
    done
}
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) * 1000 }'; }

# A control-socket request timed by the client: prints "sent_epoch round_trip_ms answer".
ctl_timed() { # socket json
    $py - "$1" "$2" <<'EOF'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
sent = time.time()
t0 = time.perf_counter()
s.sendall(sys.argv[2].encode() + b"\n")
answer = json.loads(s.makefile().readline())
t1 = time.perf_counter()
print("%.6f %.2f %s" % (sent, (t1 - t0) * 1000, answer.get("state") or answer.get("error") or "ok"))
EOF
}
ctl() { "$bodycam" ctl --socket "$1" "${@:2}" >/dev/null; }
wait_state() { # socket state seconds
    local deadline=$(($(date +%s) + $3))
    until "$bodycam" ctl --socket "$1" status --json 2>/dev/null | grep -q "\"state\": \"$2\""; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.05
    done
}

write_config() { # file data socket extra
    cat >"$1" <<EOF
# Written by benches/officer.sh
[camera]
source = "simulated"
width = 1280
height = 720
framerate = 30
bitrate_kbps = 3000
encoder = "x264"
[recording]
segment_seconds = 60
pre_event_seconds = 30
[storage]
path = "$2"
[ctl]
socket = "$3"
[[trigger]]
name = "holster"
pin = 6
$4
EOF
}

start_daemon() { # name config [netns]
    local dlog=$out/$1.log
    if [[ -n ${3:-} ]]; then
        ip netns exec "$3" "$bodycam" run --config "$2" 2>"$dlog" &
    else
        "$bodycam" run --config "$2" 2>"$dlog" &
    fi
    pids+=($!)
    wait_log "$dlog" 'state change .*to="ready"' 60 || die "$1: not ready, see $dlog"
}
stop_daemons() {
    local p
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}

printf 'kind\ttrial\tinput_to_state_ms\tround_trip_ms\tpart_ms\n' >"$latency"

# ---------- 1. trigger → recording ----------
log "trigger latency: $trials trials"
sock=/tmp/bodycam-bench-trigger-$$.sock
write_config "$out/trigger.toml" "$out/trigger-data" "$sock" ""
start_daemon trigger "$out/trigger.toml"
sleep 3
for i in $(seq 1 "$trials"); do
    n=$(lines "$out/trigger.log")
    read -r sent client answer < <(ctl_timed "$sock" '{"cmd":"trigger","name":"holster"}')
    [[ $answer == recording ]] || die "trigger $i answered $answer"
    t0=$(log_epoch "$out/trigger.log" 'bodycam::daemon::activation.* trigger ' "$n")
    t1=$(log_epoch "$out/trigger.log" 'state change .*to="recording"' "$n")
    printf 'trigger\t%s\t%s\t%s\t%s\n' "$i" "$(ms_between "$sent" "$t1")" "$client" "$(ms_between "$t0" "$t1")" >>"$latency"
    sleep 0.5
    ctl "$sock" record stop
    wait_state "$sock" ready 20 || die "trigger $i: not ready again"
    sleep 2
done
stop_daemons

# ---------- 2. peer start latency ----------
log "peer latency: $trials trials"
ids=()
for cam in a b; do
    write_config "$out/peer-$cam.toml" "$out/peer-$cam-data" "/tmp/bodycam-bench-$cam-$$.sock" ""
    # Start once to create the key, read the identity, stop.
    start_daemon "peer-$cam-keys" "$out/peer-$cam.toml"
    stop_daemons
    ids+=("$(cat "$out/peer-$cam-data/keys/identity.json")")
done
printf '{"format":"bodycam-peers/1","agency":"bench","peers":[%s,%s]}\n' "${ids[0]}" "${ids[1]}" >"$out/peers.json"
peers="[peers]
enabled = true
interface = \"lo\"
group = \"$group\"
agency = \"bench\"
enrolled = \"$out/peers.json\""
for cam in a b; do
    write_config "$out/peer-$cam.toml" "$out/peer-$cam-data" "/tmp/bodycam-bench-$cam-$$.sock" "$peers"
    start_daemon "peer-$cam" "$out/peer-$cam.toml" "$ns"
done
sa=/tmp/bodycam-bench-a-$$.sock
sb=/tmp/bodycam-bench-b-$$.sock
sleep 3
for i in $(seq 1 "$trials"); do
    na=$(lines "$out/peer-a.log")
    nb=$(lines "$out/peer-b.log")
    ctl "$sa" record start
    wait_state "$sb" recording 10 || die "peer $i: B did not follow"
    ta=$(log_epoch "$out/peer-a.log" 'state change .*to="recording"' "$na")
    t0=$(log_epoch "$out/peer-a.log" 'start announced to peers' "$na")
    t1=$(log_epoch "$out/peer-b.log" 'state change .*to="recording"' "$nb")
    printf 'peer\t%s\t%s\t-\t%s\n' "$i" "$(ms_between "$ta" "$t1")" "$(ms_between "$t0" "$t1")" >>"$latency"
    sleep 0.5
    ctl "$sa" record stop
    ctl "$sb" record stop
    wait_state "$sa" ready 20 || die "peer $i: A not ready again"
    wait_state "$sb" ready 20 || die "peer $i: B not ready again"
    sleep 2
done
stop_daemons

# ---------- 3. CPU with gpsd and peers on / off ----------
log "CPU: $rounds rounds of $cpu_seconds s, plain and gpsd+peers"
gport=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
$py - "$out/track.nmea" <<'EOF'
import functools, sys
def nmea(body):
    return "$%s*%02X\r\n" % (body, functools.reduce(lambda a, b: a ^ ord(b), body, 0))
text = "# Delay-Cookie: @ 0.5\n"
for i in range(600):
    lat = 5130.0420 + i * 0.001
    t = "17%02d%02d.00" % ((i // 60) % 60, i % 60)
    text += nmea("GPGGA,%s,%.4f,N,00007.4760,W,1,08,0.9,12.5,M,47.0,M,," % (t, lat))
    text += nmea("GPRMC,%s,A,%.4f,N,00007.4760,W,0.5,0.0,251126,,,A" % (t, lat)) + "@"
open(sys.argv[1], "w").write(text)
EOF
cat >"$out/gpsfake.py" <<'EOF'
import sys, gps.fake
s = gps.fake.TestSession(port=int(sys.argv[1]), options="-n")
s.spawn()
s.gps_add(sys.argv[2], pred=lambda index, device: True)
s.run()
EOF
# gpsd lives in the namespace too, so that the daemon inside reaches it on 127.0.0.1.
ip netns exec "$ns" setsid "$py" "$out/gpsfake.py" "$gport" "$out/track.nmea" >"$out/gpsfake.log" 2>&1 &
gpsfake_pgid=$!
sleep 3
printf 'round\tkind\tuser_s\tsys_s\tcpu_s\tmaxrss_kb\n' >"$cpu"
run_cpu() { # round kind
    local run="cpu-$2-$1" extra="" sock=/tmp/bodycam-bench-cpu-$$.sock tpid dpid
    if [[ $2 == on ]]; then
        extra="$peers
[location]
source = \"gpsd\"
gpsd = \"127.0.0.1:$gport\""
    fi
    rm -rf "$out/$run-data"
    write_config "$out/$run.toml" "$out/$run-data" "$sock" "$extra"
    if [[ $2 == on ]]; then
        mkdir -p "$out/$run-data"
        cp -r "$out/peer-a-data/keys" "$out/$run-data/"
    fi
    ip netns exec "$ns" "$timev" -v -o "$out/$run.time" "$bodycam" run --config "$out/$run.toml" 2>"$out/$run.log" &
    tpid=$!
    pids+=("$tpid")
    wait_log "$out/$run.log" 'state change .*to="ready"' 60 || die "$run: not ready"
    ctl "$sock" record start
    sleep "$cpu_seconds"
    # `ip netns exec` became `time`, whose child is the daemon.
    dpid=$(pgrep -P "$tpid" | head -n1)
    kill -TERM "$dpid"
    wait "$tpid" || true
    pids=()
    local u s r
    u=$(awk -F': ' '/User time/ { print $2 }' "$out/$run.time")
    s=$(awk -F': ' '/System time/ { print $2 }' "$out/$run.time")
    r=$(awk -F': ' '/Maximum resident/ { print $2 }' "$out/$run.time")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$u" "$s" "$(awk -v a="$u" -v b="$s" 'BEGIN { print a + b }')" "$r" >>"$cpu"
    log "$run: $(tail -n1 "$cpu")"
}
for r in $(seq 1 "$rounds"); do
    run_cpu "$r" off
    run_cpu "$r" on
done
[[ $rounds -gt 0 ]] || log "CPU part skipped (ROUNDS=0)"

# ---------- summary ----------
field() { awk -F'\t' -v k="$1" -v c="$2" 'NR > 1 && $1 == k { print $c }' "$latency"; }
read -r tsm tsmin tsmax < <(field trigger 3 | stats)
read -r tcm tcmin tcmax < <(field trigger 4 | stats)
read -r tlm tlmin tlmax < <(field trigger 5 | stats)
read -r psm psmin psmax < <(field peer 3 | stats)
read -r plm plmin plmax < <(field peer 5 | stats)
ratios=$(awk -F'\t' 'NR > 1 { c[$1 " " $2] = $5 } END { for (k in c) { split(k, p, " "); if (p[2] == "on" && c[p[1] " off"] > 0) print c[k] / c[p[1] " off"] } }' "$cpu")
read -r rm rmin rmax < <(stats <<<"$ratios")
{
    echo "# Officer benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "$(nproc) cores, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| measure | median | min | max | target |"
    echo "|---|---|---|---|---|"
    echo "| trigger input → \`recording\` state (ms, n=$trials) | $tsm | $tsmin | $tsmax | ≤ 50 |"
    echo "| — the loop's part: its \`trigger\` line → state (ms) | $tlm | $tlmin | $tlmax | |"
    echo "| — input → answer, pre-event footage written and signed (ms) | $tcm | $tcmin | $tcmax | |"
    echo "| peer start: A \`recording\` → B \`recording\` (ms, n=$trials) | $psm | $psmin | $psmax | ≤ 250 median |"
    echo "| — A's announcement → B \`recording\` (ms) | $plm | $plmin | $plmax | |"
    echo "| recorder CPU, gpsd + peers on / off ($rounds rounds of ${cpu_seconds} s) | $rm | $rmin | $rmax | |"
} >"$summary"
cat "$summary"

#!/usr/bin/env bash
# Confidential footage benchmarks (issue 12), each a ratio against a side-by-side
# baseline on the same machine and bytes; nothing is asserted, results go to OUT_DIR.
#
#  1. aead      throughput of the AEAD candidates through ring (examples/aead_bench.rs),
#               MB/s, one 384 KiB chunk (1 s of 3 Mbit/s footage) at a time, and SHA-256.
#  2. verify    `bodycam verify` of a store of synthetic 4 Mbit/s footage (examples/make_store),
#               plain and encrypted, against `openssl dgst -sha256` of the same bytes
#               (media + journals), warm page cache. Target: >= 0.8x openssl.
#  3. recorder  CPU (user+sys) of `bodycam run` recording the simulated camera (snow, so
#               the encoder spends the whole bitrate) at 720p30 3 Mbit/s and 1080p30
#               6 Mbit/s, encryption required against off, interleaved. Target <= 1.03x.
#  4. export    `bodycam export` of an encrypted recording (verify + decrypt + MP4, with
#               and without thumbnails) against `ffmpeg -c copy` of the same plain TS.
#
# ONLY="aead verify recorder export" (any subset) runs only those parts.
# usage: benches/confidential.sh [ROUNDS (default 3)] [RECORD_SECONDS (default 30)] [VERIFY_MINUTES (default 20)] [OUT_DIR]
# Needs: a release build (cargo build --release --bin bodycam --example make_store
# --example aead_bench), ffmpeg, openssl, /usr/bin/time (GNU).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
rounds=${1:-3}
record_s=${2:-30}
verify_min=${3:-20}
out=${4:-"./bench-out/confidential-$(date -u +%Y%m%dT%H%M%SZ)"}
target=${CARGO_TARGET_DIR:-$repo/target}/release
bin=$target/bodycam
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=benches/lib.sh
. "$here/lib.sh"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
for t in "$bin" "$target/examples/make_store" "$target/examples/aead_bench"; do
    [[ -x $t ]] || { echo "missing $t: cargo build --release --bin bodycam --example make_store --example aead_bench" >&2; exit 1; }
done
only=${ONLY:-aead verify recorder export}
want() { [[ " $only " == *" $1 "* ]]; }
summary=$out/summary.md
{
    echo "# Confidential footage benchmarks"
    echo
    echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load at start $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git -C "$repo" rev-parse --short HEAD)"
    echo
} >"$summary"

"$bin" pki footage-key "$work/keys" --name agency >/dev/null
key=$work/keys/agency.key
pub=$work/keys/agency.pub

# ---------- 1. AEAD throughput ----------
if want aead; then
log "aead"
for i in $(seq "$rounds"); do "$target/examples/aead_bench" 2 384; done >"$out/aead.txt"
{
    echo "## AEAD throughput (ring, 384 KiB chunks), MB/s: median [min – max] of $rounds"
    echo
    echo "| algorithm | MB/s |"
    echo "| --- | --- |"
    for a in chacha20-poly1305 aes-256-gcm sha-256; do
        read -r m lo hi < <(awk -v a="$a" '$1 == a { print $2 }' "$out/aead.txt" | stats)
        echo "| $a | $m [$lo – $hi] |"
    done
    echo
} >>"$summary"

fi

# ---------- 2. verify against openssl dgst -sha256 ----------
if want verify; then
log "verify: making stores of $verify_min min"
"$target/examples/make_store" "$work/plain" "$verify_min" 4000 >"$out/make_store_plain.txt"
MAKE_STORE_RECIPIENT=$pub "$target/examples/make_store" "$work/sealed" "$verify_min" 4000 >"$out/make_store_sealed.txt"
echo -n >"$out/verify.tsv"
for kind in plain sealed; do
    pk=$(sed -n 's/.*public_key=\([0-9a-f]*\).*/\1/p' "$out/make_store_$kind.txt")
    files=("$work/$kind"/recordings/*/*.ts "$work/$kind"/recordings/*/*.journal)
    bytes=$(du -cb "${files[@]}" | tail -1 | cut -f1)
    cat "${files[@]}" >/dev/null
    for i in $(seq "$rounds"); do
        t0=$(date +%s.%N)
        openssl dgst -sha256 "${files[@]}" >/dev/null
        t1=$(date +%s.%N)
        "$bin" verify "$work/$kind" --key "$pk" >/dev/null
        t2=$(date +%s.%N)
        printf '%s\t%s\t%s\t%s\n' "$kind" "$bytes" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" >>"$out/verify.tsv"
    done
done
{
    echo "## verify against openssl dgst -sha256 (same bytes, warm cache, $(nproc) cores): median [min – max] of $rounds"
    echo
    echo "| store | bytes | openssl MB/s | verify MB/s | verify / openssl throughput |"
    echo "| --- | --- | --- | --- | --- |"
    for kind in plain sealed; do
        b=$(awk -v k=$kind '$1 == k { print $2; exit }' "$out/verify.tsv")
        read -r om _ _ < <(awk -v k=$kind '$1 == k { print $2 / $3 / 1e6 }' "$out/verify.tsv" | stats)
        read -r vm _ _ < <(awk -v k=$kind '$1 == k { print $2 / $4 / 1e6 }' "$out/verify.tsv" | stats)
        read -r r lo hi < <(awk -v k=$kind '$1 == k { print $3 / $4 }' "$out/verify.tsv" | stats)
        echo "| $kind | $b | $om | $vm | **${r}×** [$lo – $hi] |"
    done
    echo
} >>"$summary"

fi

# ---------- 3. recorder CPU, encryption required against off ----------
config() { # NAME WIDTH HEIGHT KBPS ENCRYPTION
    local dir=$work/rec-$1
    mkdir -p "$dir"
    {
        echo "[camera]"
        echo "width = $2"
        echo "height = $3"
        echo "framerate = 30"
        echo "bitrate_kbps = $4"
        echo "encoder = \"x264\""
        echo "pattern = \"snow\""
        echo "[recording]"
        echo "segment_seconds = 10"
        echo "pre_event_seconds = 0"
        echo "[storage]"
        echo "path = \"$dir/data\""
        echo "[ctl]"
        echo "socket = \"/tmp/bodycam-confbench-$$.sock\""
        if [[ $5 == required ]]; then
            echo "[evidence]"
            echo "encryption = \"required\""
            echo "recipients = [\"$pub\"]"
        fi
    } >"$dir/bodycam.toml"
    echo "$dir"
}
record_once() { # DIR: prints "cpu_seconds bytes"
    local dir=$1
    rm -rf "$dir/data"
    /usr/bin/time -f "%U %S" -o "$dir/time.txt" "$bin" run --config "$dir/bodycam.toml" 2>"$dir/log.txt" &
    local tpid=$!
    for _ in $(seq 300); do
        "$bin" ctl --config "$dir/bodycam.toml" status 2>/dev/null | grep -q "state:        ready" && break
        sleep 0.1
    done
    "$bin" ctl --config "$dir/bodycam.toml" record start >/dev/null
    sleep "$record_s"
    "$bin" ctl --config "$dir/bodycam.toml" record stop >/dev/null
    kill -TERM "$(pgrep -P "$tpid" | head -1)"
    wait "$tpid" || true
    local cpu bytes
    cpu=$(awk '{ print $1 + $2 }' "$dir/time.txt")
    bytes=$(du -cb "$dir"/data/recordings/*/*.ts | tail -1 | cut -f1)
    echo "$cpu $bytes"
}
if want recorder || want export; then
echo -n >"$out/recorder.tsv"
for res in "720p 1280 720 3000" "1080p 1920 1080 6000"; do
    read -r name w h kbps <<<"$res"
    off=$(config "$name-off" "$w" "$h" "$kbps" off)
    req=$(config "$name-req" "$w" "$h" "$kbps" required)
    for i in $(seq "$rounds"); do
        log "recorder $name round $i"
        read -r c0 b0 < <(record_once "$off")
        read -r c1 b1 < <(record_once "$req")
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$c0" "$c1" "$b0" "$b1" >>"$out/recorder.tsv"
    done
    cp -r "$req/data" "$work/export-$name"
done
{
    echo "## Recorder CPU, encryption required against off ($record_s s recorded per run, snow, x264): median [min – max] of $rounds"
    echo
    echo "| capture | CPU s off | CPU s required | required / off | media bytes off / required |"
    echo "| --- | --- | --- | --- | --- |"
    for name in 720p 1080p; do
        read -r c0 _ _ < <(awk -v n=$name '$1 == n { print $2 }' "$out/recorder.tsv" | stats)
        read -r c1 _ _ < <(awk -v n=$name '$1 == n { print $3 }' "$out/recorder.tsv" | stats)
        read -r r lo hi < <(awk -v n=$name '$1 == n { print $3 / $2 }' "$out/recorder.tsv" | stats)
        read -r b0 _ _ < <(awk -v n=$name '$1 == n { print $4 }' "$out/recorder.tsv" | stats)
        read -r b1 _ _ < <(awk -v n=$name '$1 == n { print $5 }' "$out/recorder.tsv" | stats)
        echo "| $name | $c0 | $c1 | **${r}×** [$lo – $hi] | $b0 / $b1 |"
    done
    echo
} >>"$summary"

fi

# ---------- 4. export against ffmpeg -c copy ----------
if want export; then
echo -n >"$out/export.tsv"
for name in 720p 1080p; do
    store=$work/export-$name
    for i in $(seq "$rounds"); do
        log "export $name round $i"
        rm -rf "$work/x1" "$work/x2" "$work/x3"
        t0=$(date +%s.%N)
        "$bin" export --key "$key" "$store" --out "$work/x1" --thumbnail-seconds 0 >/dev/null
        t1=$(date +%s.%N)
        "$bin" export --key "$key" "$store" --out "$work/x2" >/dev/null
        t2=$(date +%s.%N)
        mkdir -p "$work/x3"
        cat "$work"/x1/*/segments/*.ts | ffmpeg -nostdin -loglevel error -f mpegts -i pipe:0 \
            -map 0:v -map 0:a -c copy -bsf:a aac_adtstoasc -movflags +faststart "$work/x3/copy.mp4"
        t3=$(date +%s.%N)
        bytes=$(du -cb "$store"/recordings/*/*.ts | tail -1 | cut -f1)
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" "$(echo "$t3 - $t2" | bc -l)" >>"$out/export.tsv"
    done
done
{
    echo "## export against ffmpeg -c copy of the same plain TS: median [min – max] of $rounds"
    echo
    echo "| recording | bytes | ffmpeg -c copy s | export s (no thumbnails) | ratio | export s (thumbnails) | ratio |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for name in 720p 1080p; do
        b=$(awk -v n=$name '$1 == n { print $2; exit }' "$out/export.tsv")
        read -r f _ _ < <(awk -v n=$name '$1 == n { print $5 }' "$out/export.tsv" | stats)
        read -r e _ _ < <(awk -v n=$name '$1 == n { print $3 }' "$out/export.tsv" | stats)
        read -r r lo hi < <(awk -v n=$name '$1 == n { print $3 / $5 }' "$out/export.tsv" | stats)
        read -r et _ _ < <(awk -v n=$name '$1 == n { print $4 }' "$out/export.tsv" | stats)
        read -r rt lot hit < <(awk -v n=$name '$1 == n { print $4 / $5 }' "$out/export.tsv" | stats)
        echo "| $name | $b | $f | $e | ${r}× [$lo – $hi] | $et | ${rt}× [$lot – $hit] |"
    done
    echo
} >>"$summary"
fi
echo "load at end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$summary"
cat "$summary"

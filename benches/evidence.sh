#!/usr/bin/env bash
# Evidence benchmarks (issue 3), side by side on the same machine and bytes:
#  1. `bodycam verify` throughput versus `sha256sum` over the same media and journal
#     bytes (target: verify >= 0.8x sha256sum);
#  2. signing overhead in bytes at 4 Mbit/s: journal bytes / media bytes (target <= 0.5 %);
#  3. signing overhead in CPU: the hashing + signing work per second of footage, and the
#     whole Rust store path (mux + write + fsync + hash + sign), against the recorder's
#     CPU per second of footage measured by benches/recorder.sh (target <= 1 %).
#
# usage: benches/evidence.sh [MINUTES_OF_FOOTAGE (default 20)] [REPETITIONS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-20}"
reps="${2:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release --quiet --bin bodycam --example make_store
bin="${CARGO_TARGET_DIR:-target}"/release/bodycam
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# A store of synthetic 4 Mbit/s footage written through the real store + evidence code.
out="$("${CARGO_TARGET_DIR:-target}"/release/examples/make_store "$work/store" "$minutes" 4000)"
echo "make_store: $out"
key="$(sed -n 's/.*public_key=\([0-9a-f]*\).*/\1/p' <<<"$out")"
bytes="$(du -cb "$work"/store/recordings/*/*.ts "$work"/store/recordings/*/*.journal | tail -1 | cut -f1)"
echo "bytes hashed by both: $bytes"

# Warm the page cache once so both read from RAM (what we compare is the CPU path).
cat "$work"/store/recordings/*/* >/dev/null

ratios=()
for i in $(seq "$reps"); do
  t0=$(date +%s.%N)
  sha256sum "$work"/store/recordings/*/*.ts "$work"/store/recordings/*/*.journal >/dev/null
  t1=$(date +%s.%N)
  "$bin" verify "$work/store" --key "$key" >/dev/null
  t2=$(date +%s.%N)
  sha=$(echo "$t1 - $t0" | bc -l)
  ver=$(echo "$t2 - $t1" | bc -l)
  ratio=$(echo "$sha / $ver" | bc -l)
  printf 'run %d: sha256sum %.3f s (%.0f MB/s), verify %.3f s (%.0f MB/s), verify/sha256sum throughput %.2fx\n' \
    "$i" "$sha" "$(echo "$bytes / $sha / 1000000" | bc -l)" "$ver" "$(echo "$bytes / $ver / 1000000" | bc -l)" "$ratio"
  ratios+=("$ratio")
done
printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {printf "verify throughput vs sha256sum: median %.2fx (min %.2fx, max %.2fx)\n", a[int((NR+1)/2)], a[1], a[NR]}'

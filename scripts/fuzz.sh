#!/usr/bin/env bash
# Fuzz the parsers with libFuzzer through cargo-fuzz (docs/FUZZING.md). Not run by CI:
# CI replays the saved corpora on the stable toolchain (tests/integration/fuzz_corpus.rs).
#
#   scripts/fuzz.sh list                  the targets
#   scripts/fuzz.sh build                 build every target
#   scripts/fuzz.sh run TARGET [SECONDS]  fuzz one target (default 600 s) on a scratch
#                                         copy of fuzz/corpus/TARGET, then keep its
#                                         seed-* and regression-* inputs and merge in
#                                         what adds coverage, minimised; a crash is left
#                                         in fuzz/artifacts/TARGET/
#   scripts/fuzz.sh cmin TARGET           minimise fuzz/corpus/TARGET in place
#
# Only a stable toolchain is installed here and rustup cannot fetch nightly, so cargo-fuzz
# runs on stable with RUSTC_BOOTSTRAP=1 (it needs -Z flags for the sanitizer coverage
# passes). Without a sanitizer (-s none): the code is safe Rust, and the fuzzing harness
# keeps debug assertions on, so integer overflow panics. Run it under nice: the machine
# is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
FUZZ_FLAGS=(-s none)
# The file-based targets (recovery, audit_log, identity) write their inputs below
# $TMPDIR; on tmpfs an fsync costs nothing (about 20x the executions of a disk).
if [ -d /dev/shm ]; then export TMPDIR=/dev/shm; fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
bin() { echo "fuzz/target/x86_64-unknown-linux-gnu/release/$1"; }
case "${1:-}" in
  list) (cd fuzz && cargo fuzz list) ;;
  build) (cd fuzz && nice cargo fuzz build "${FUZZ_FLAGS[@]}") ;;
  run)
    target=${2:?target}; secs=${3:-600}
    (cd fuzz && nice cargo fuzz build "${FUZZ_FLAGS[@]}" "$target")
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/corpus" "$work/merged" "fuzz/artifacts/$target"
    cp fuzz/corpus/"$target"/* "$work/corpus/"
    nice "$(bin "$target")" "$work/corpus" -max_total_time="$secs" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$target/"
    # Seeds and regression inputs stay whatever they cover; the rest is what adds coverage.
    cp fuzz/corpus/"$target"/seed-* fuzz/corpus/"$target"/regression-* "$work/merged/" 2>/dev/null || true
    nice "$(bin "$target")" -set_cover_merge=1 -use_counters=0 "$work/merged" "$work/corpus"
    rm -f fuzz/corpus/"$target"/*
    cp "$work/merged"/* "fuzz/corpus/$target/"
    echo "fuzz/corpus/$target: $(find "fuzz/corpus/$target" -type f | wc -l) inputs"
    ;;
  cmin)
    target=${2:?target}
    (cd fuzz && nice cargo fuzz cmin "${FUZZ_FLAGS[@]}" "$target")
    ;;
  *) sed -n '2,19p' "$0"; exit 2 ;;
esac

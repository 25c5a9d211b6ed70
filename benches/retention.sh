#!/usr/bin/env bash
# Retention benchmark: `bodycam dock-agent retention --apply` over a container of about
# 100,000 blobs in Azurite (in-memory). How long does it take and how many requests does
# it send per deleted recording, and does that depend on what it deletes rather than on
# what the container holds?
#
#   Each stage seeds blobs with examples/seed_retention (1-segment recordings, 3 blobs
#   each, 4 KiB media; "kept" ones carry a retention tag in 2100, "due" ones one in
#   2020; due ones belong to devices whose ids sort before the kept ones', because
#   Azurite 3.35's Find Blobs by Tags examines only the first 5,000 blob names of a
#   request and then drops its continuation marker when fewer of them match: see
#   docs/PERFORMANCE.md), then runs one timed `retention --apply` with BODYCAM_RETENTION_AGE_DAYS=40
#   (the documented test seam: blobs created a moment ago count as 40 days old, so the
#   31-day standard period plus the 24 h margin has passed for the due ones).
#     1  container ~N/10 blobs, K due recordings deleted   (K = --due, default 1000;
#                                                         N = --blobs, default 100,000)
#     2  container ~N blobs, K due recordings deleted      (same K, 10x the container)
#     3  ~N blobs, K/10 due
#     4  ~N blobs, 3K due
#   Baseline, side by side: one full listing of the ~N-blob container with tags
#   (what a job that lists the container instead of asking the tag index would need
#   before deciding anything), timed and counted the same way.
#
# Usage:
#   benches/retention.sh [--due K] [--blobs N] [--port P] [--out DIR] [--no-build] [--keep]
#   (seeding runs at roughly 30 blobs/s on the shared 2-core machine: the full size takes
#   more than an hour; --blobs 20000 --due 100 about a quarter of it)
#   Environment: BODYCAM, SEED (binaries; default target/release/...), AZURITE_BLOB.
# Nothing is asserted: the script measures and prints a table (and writes it to --out).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
due=1000
total=100000
port=18610
out=""
build=1
keep=0
die() {
    echo "retention.sh: $*" >&2
    exit 1
}
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
while (($#)); do
    case $1 in
        --due) due=${2:?}; shift 2 ;;
        --blobs) total=${2:?}; shift 2 ;;
        --port) port=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --no-build) build=0; shift ;;
        --keep) keep=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' | head -n -1; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ $due =~ ^[0-9]+$ ]] && ((due >= 10)) || die "--due must be an integer >= 10"
[[ $total =~ ^[0-9]+$ ]] && ((total / 30 > due)) || die "--blobs must be an integer above 30 x --due"

bodycam=${BODYCAM:-"$repo/target/release/bodycam"}
seed=${SEED:-"$repo/target/release/examples/seed_retention"}
azurite_blob=${AZURITE_BLOB:-"$repo/scripts/azurite/node_modules/.bin/azurite-blob"}
if ((build)); then
    log "cargo build --release"
    (cd "$repo" && cargo build --release --quiet --bin bodycam --example seed_retention)
fi
[[ -x $bodycam && -x $seed ]] || die "build bodycam and examples/seed_retention first"
[[ -x $azurite_blob ]] || die "no Azurite at $azurite_blob (scripts/setup.sh installs it)"

work=$(mktemp -d /tmp/retention-bench.XXXXXX)
az_pid=""
cleanup() {
    [[ -n $az_pid ]] && kill "$az_pid" 2>/dev/null && wait "$az_pid" 2>/dev/null
    if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

(cd "$work" && exec "$azurite_blob" --inMemoryPersistence --disableTelemetry --skipApiVersionCheck \
    --blobHost 127.0.0.1 --blobPort "$port" >"$work/azurite.log" 2>&1) &
az_pid=$!
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
cat >"$work/agent.toml" <<EOF
state_dir = "$work/state"
dock_name = "bench"
[tls]
ca = "unused.pem"
cert = "unused.pem"
key = "unused.key"
[azure]
account = "devstoreaccount1"
access_key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
container = "bodycam"
endpoint = "http://127.0.0.1:$port/devstoreaccount1"
allow_http = true
create_container = true
EOF

next=0 # recording index: every seeded recording is new
seed_recs() { # N due|kept
    local base=b0d70000
    [[ $2 == due ]] && base=0
    "$seed" "$work/agent.toml" seed --recordings "$1" "--$2" --first "$next" --device-base "$base" >&2
    next=$((next + $1))
}
blobs=0
results="$work/results.tsv"
printf 'stage\tcontainer_blobs\tdue_recordings\tfound_blobs\tdeleted_recordings\trequests\trequests_per_recording\tseconds\tms_per_recording\n' >"$results"
run() { # stage
    local o s found del req
    o=$(BODYCAM_RETENTION_AGE_DAYS=40 "$bodycam" dock-agent --config "$work/agent.toml" retention --apply | tail -n 2)
    s=$(sed -n 's/^retention: \([0-9.]*\) s$/\1/p' <<<"$o")
    found=$(sed -n 's/^retention: \([0-9]*\) due blob.*/\1/p' <<<"$o")
    del=$(sed -n 's/.*; deleted \([0-9]*\) recording(s).*/\1/p' <<<"$o")
    req=$(sed -n 's/.*; \([0-9]*\) request(s).*/\1/p' <<<"$o")
    [[ -n $s && -n $del && -n $req ]] || die "cannot read the agent's summary: $o"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$blobs" "$2" "$found" "$del" "$req" \
        "$(awk -v r="$req" -v d="$del" 'BEGIN { printf "%.2f", r / d }')" "$s" \
        "$(awk -v s="$s" -v d="$del" 'BEGIN { printf "%.2f", 1000 * s / d }')" >>"$results"
    log "stage $1: $o"
}
stage() { # name kept_recordings_to_add due_recordings
    seed_recs "$2" kept
    seed_recs "$3" due
    blobs=$((blobs + 3 * ($2 + $3)))
    run "$1" "$3"
    blobs=$((blobs - 3 * $3))
}
log "stage 1: ~$((total / 10)) blobs"
stage 1 $((total / 30 - due)) "$due"
log "stage 2: ~$total blobs"
stage 2 $((total / 3 - total / 30)) "$due"
stage 3 0 $((due / 10))
stage 4 0 $((3 * due))
# Top up to the same container size, then the listing baseline.
seed_recs "$due" kept
blobs=$((blobs + 3 * due))
listing=$("$seed" "$work/agent.toml" list)
log "baseline: $listing"

{
    echo "| stage | blobs in container | due recordings | blobs found by tag | deleted | requests | requests / recording | seconds | ms / recording |"
    echo "|---|---|---|---|---|---|---|---|---|"
    tail -n +2 "$results" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
    echo
    echo "Baseline (full listing of the container with tags, nothing decided yet): $listing"
} | tee "$work/summary.md"
if [[ -n $out ]]; then
    mkdir -p "$out"
    cp "$results" "$work/summary.md" "$work/agent.toml" "$out/"
fi

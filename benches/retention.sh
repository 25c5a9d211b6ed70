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
#                        [--stock-seeding]
#   Environment: BODYCAM, SEED (binaries; default target/release/...), AZURITE_BLOB.
#   The binaries are copied into the run's directory first, so a rebuild during the run
#   does not change them.
# Azurite (in memory) is started through a small wrapper, written into the run's
# directory, that changes three things and nothing it stores:
#   - its extent garbage collection runs once a day instead of every 10 minutes. In
#     memory every blob is an extent of its own, and the sweep removes each deleted
#     blob's extent with a rebuild of the whole extent index: at ~50,000 blobs, after a
#     stage had deleted 3,000 blobs, it held up every request for more than 12 minutes.
#   - while blobs are seeded (not while anything is measured), looking a blob up by its
#     full key (account, container, name, snapshot) tests the indexed name first. Stock
#     LokiJS tests the account first, which every blob matches, so each Put Blob scans
#     the whole store: seeding fell from ~650 blobs/s when empty to under 60 at
#     ~50,000 blobs. With the wrapper it stays at 700-950 blobs/s (90,000 blobs in
#     about 2 minutes). The answer is the same blob, as the key is unique.
#     --stock-seeding seeds without it.
#   - its --blobKeepAliveTimeout flag reaches the server (3.35 reads a flag of another
#     name, so an idle connection is always closed after Node's 5 s), and it is 600 s.
#     At ~100,000 blobs, where Azurite answers slowly, 2 of the agent's ~1,000
#     requests in a stage were sent on a connection it was closing ("error sending
#     request"; the job did not retry them then, so the stage failed; the agent now
#     sends such a request again, except an append).
# Seeding sends one Put Blob per blob (tags in the same request), 32 at a time.
# --location on tmpfs or disk instead of in memory seeded 5,000 blobs no faster.
# Timing on the shared 2-core VM: --blobs 20000 --due 100 about 3 minutes; --blobs
# 100000 --due 100 about 21 (the job takes ~2.5 s per deleted recording at ~100,000
# blobs in Azurite); the defaults, --due 1000, about 3 hours (estimated; stage 4 alone
# ~2 h). See docs/PERFORMANCE.md.
# Nothing is asserted: the script measures and prints a table (and writes it, the log
# and the load averages to --out).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
due=1000
total=100000
port=18610
out=""
build=1
keep=0
fast_seed=1
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
        --stock-seeding) fast_seed=0; shift ;;
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
started=$(date +%s)
loads() { echo "$(date -u +%FT%TZ) $1: $(uptime | sed 's/.*load average/load average/')" >>"$work/load.txt"; }
save() { # copy what there is into --out
    [[ -n $out ]] || return 0
    mkdir -p "$out"
    for f in results.tsv summary.md agent.toml load.txt run.log; do
        [[ -f $work/$f ]] && cp "$work/$f" "$out/"
    done
    return 0
}
cleanup() {
    [[ -n $az_pid ]] && kill "$az_pid" 2>/dev/null && wait "$az_pid" 2>/dev/null
    save
    if ((keep)); then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
exec 2> >(tee "$work/run.log" >&2)
cp "$bodycam" "$work/bodycam" && bodycam=$work/bodycam
cp "$seed" "$work/seed_retention" && seed=$work/seed_retention
loads start

# The wrapper (see the header). SIGUSR2 makes it read the lookup mode from $work/lookups.
cat >"$work/azurite.js" <<'EOF'
"use strict";
const path = require("path");
const fs = require("fs");
const [main, control] = process.argv.splice(2, 2);
const dir = path.dirname(main);
require(path.join(dir, "utils", "constants")).DEFAULT_GC_INTERVAL_MS = 24 * 3600 * 1000;
require(path.join(dir, "BlobEnvironment")).default.prototype.blobKeepAliveTimeout = function () {
    return this.flags.blobKeepAliveTimeout;
};
const Loki = require(require.resolve("lokijs", { paths: [dir] }));
const findOne = Loki.Collection.prototype.findOne;
let indexed = false;
let count = 0;
Loki.Collection.prototype.findOne = function (query) {
    if (indexed && this.name === "$BLOBS_COLLECTION$" && query) {
        const { accountName, containerName, name, snapshot, ...rest } = query;
        const key = [accountName, containerName, name, snapshot];
        if (key.every((v) => typeof v === "string") && Object.keys(rest).length === 0) {
            count++;
            return findOne.call(this, { name, accountName, containerName, snapshot });
        }
    }
    return findOne.call(this, query);
};
process.on("SIGUSR2", () => {
    indexed = fs.readFileSync(control, "utf8").trim() === "indexed";
    console.log(`lookups: ${indexed ? "indexed" : "stock"} (${count} indexed so far)`);
});
process.argv.splice(1, 1, main);
require(main);
EOF
azurite_main=$(readlink -f "$azurite_blob")
[[ -f $(dirname "$azurite_main")/utils/constants.js ]] || die "$azurite_main is not Azurite's blob service"
(cd "$work" && exec node "$work/azurite.js" "$azurite_main" "$work/lookups" --inMemoryPersistence \
    --blobKeepAliveTimeout 600 --disableTelemetry --skipApiVersionCheck --blobHost 127.0.0.1 --blobPort "$port" \
    >"$work/azurite.log" 2>&1) &
az_pid=$!
lookups() { # indexed|stock: switch the wrapper, wait until it says so
    local n
    n=$(grep -c "^lookups: " "$work/azurite.log" || true)
    echo "$1" >"$work/lookups"
    kill -USR2 "$az_pid"
    for _ in $(seq 100); do
        (($(grep -c "^lookups: " "$work/azurite.log" || true) > n)) && break
        sleep 0.05
    done
    grep "^lookups: " "$work/azurite.log" | tail -n 1 | grep -q "^lookups: $1 " ||
        die "Azurite did not switch to $1 lookups"
}
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
    if ((fast_seed)); then lookups indexed; fi
    "$seed" "$work/agent.toml" seed --recordings "$1" "--$2" --first "$next" --device-base "$base" >&2
    if ((fast_seed)); then lookups stock; fi
    next=$((next + $1))
}
blobs=0
results="$work/results.tsv"
printf 'stage\tcontainer_blobs\tdue_recordings\tfound_blobs\tdeleted_recordings\trequests\trequests_per_recording\tseconds\tms_per_recording\n' >"$results"
run() { # stage
    local o s found del req
    BODYCAM_RETENTION_AGE_DAYS=40 "$bodycam" dock-agent --config "$work/agent.toml" retention --apply \
        >"$work/stage-$1.out" || die "stage $1: the agent failed (exit $?): $(tail -n 5 "$work/stage-$1.out")"
    o=$(tail -n 2 "$work/stage-$1.out")
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
    loads "stage $1"
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
loads end
log "whole run: $(($(date +%s) - started)) s"

{
    echo "| stage | blobs in container | due recordings | blobs found by tag | deleted | requests | requests / recording | seconds | ms / recording |"
    echo "|---|---|---|---|---|---|---|---|---|"
    tail -n +2 "$results" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
    echo
    echo "Baseline (full listing of the container with tags, nothing decided yet): $listing"
    echo
    echo "Whole run: $(($(date +%s) - started)) s. Load averages (1, 5, 15 min):"
    echo
    sed 's/^/    /' "$work/load.txt"
} | tee "$work/summary.md"

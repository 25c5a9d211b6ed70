#!/usr/bin/env bash
# Checks the README's Quick start on a bare Debian 12: builds a minimal bookworm root
# filesystem with debootstrap (--variant=minbase, plus only ca-certificates and git),
# clones this repository into it, and runs, inside a chroot and exactly as the README
# gives them:
#   ./scripts/test.sh      must pass (fmt, clippy, every test);
#   ./scripts/dev-run.sh   must reach `ready`; a recording started and stopped with
#                          `bodycam ctl button double` / `hold` from a second process
#                          must leave a segment that ffprobe decodes (H.264 and AAC).
# Prints one line per step and a verdict. Slow (about half an hour on 2 cores, most of
# it apt, crates and two cargo builds) and needs the network to Debian's mirrors,
# crates.io and npm, so CI does not run it.
#
# Usage (as root, on a Debian or Ubuntu host):
#   scripts/bare-debian-check.sh DIR [REF]
# DIR   a new or empty directory outside the repository for the root filesystem; logs
#       go to DIR.logs/. Remove both afterwards with `rm -rf --one-file-system`.
# REF   the branch (or tag) to clone, default the current branch. Only committed work
#       is checked: uncommitted changes are not in the clone.
# Environment: BARE_CHECK_READY_TIMEOUT (seconds, default 3600) bounds the wait for
# `ready`, which includes dev-run.sh's release build.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
case "$1" in -h | --help) usage ;; esac
[ "$(id -u)" -eq 0 ] || {
  echo "bare-debian-check: needs root (debootstrap, mount, chroot)" >&2
  exit 2
}

REPO="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(realpath -m "$1")"
LOGS="$ROOT.logs"
REF="${2:-$(git -C "$REPO" symbolic-ref --quiet --short HEAD || echo HEAD)}"
READY_TIMEOUT="${BARE_CHECK_READY_TIMEOUT:-3600}"

case "$ROOT/" in
  "$REPO"/*) echo "bare-debian-check: $ROOT is inside the repository" >&2; exit 2 ;;
esac
mkdir -p "$ROOT"
if [ -n "$(ls -A "$ROOT")" ]; then
  echo "bare-debian-check: $ROOT is not empty (remove it with rm -rf --one-file-system)" >&2
  exit 2
fi
git -C "$REPO" rev-parse --verify --quiet "$REF^{commit}" >/dev/null || {
  echo "bare-debian-check: no such ref: $REF" >&2
  exit 2
}
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no)" ]; then
  echo "bare-debian-check: note: uncommitted changes in $REPO are not checked" >&2
fi
rm -rf "$LOGS"
mkdir -p "$LOGS"

step() { printf 'bare-debian-check: %-10s %s\n' "$1" "$2"; }
FAILED=""
fail() {
  step "$1" "FAIL: $2"
  FAILED="$1"
  exit 1
}

# --- the chroot --------------------------------------------------------------------
MOUNTED=()
DAEMON_PID=""
cleanup() {
  local rc=$? i
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -INT -- "-$DAEMON_PID" 2>/dev/null || true
    for i in $(seq 20); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$DAEMON_PID" 2>/dev/null || true
  fi
  for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
    umount -R "${MOUNTED[i]}" 2>/dev/null || umount -R -l "${MOUNTED[i]}" || true
  done
  if [ $rc -ne 0 ] && [ -z "$FAILED" ]; then
    step "aborted" "exit $rc (logs in $LOGS)"
  fi
  if [ $rc -ne 0 ]; then
    echo "bare-debian-check: verdict: FAIL${FAILED:+ at $FAILED} (logs in $LOGS)"
  fi
}
trap cleanup EXIT

mount_in() { # mount_in TARGET MOUNT-ARGS...
  local target="$ROOT/$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTED+=("$target")
}

# Runs a shell command inside the chroot as root, with a clean login-like environment
# (nothing of the host's environment leaks in).
in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "$1"
}

now() { date +%s; }

# --- 1. a minimal Debian 12 ------------------------------------------------------------
command -v debootstrap >/dev/null || {
  step host "installing debootstrap (apt)"
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends debootstrap \
    >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
      --no-install-recommends debootstrap >/dev/null; }
}
t0=$(now)
# debootstrap's default mirror; its sources.list then holds only `bookworm main`.
nice debootstrap --variant=minbase --include=ca-certificates,git bookworm "$ROOT" \
  >"$LOGS/debootstrap.log" 2>&1 || fail debootstrap "see $LOGS/debootstrap.log"
T_DEBOOTSTRAP=$(($(now) - t0))
step debootstrap "ok: minbase bookworm + ca-certificates git, ${T_DEBOOTSTRAP} s, $(du -sm --one-file-system "$ROOT" | cut -f1) MB"

# The network as the host sees it: its resolver, and the certificate authorities the
# host added locally (present only where the network inspects TLS; then npm, cargo and
# curl inside need them as the host does). No package is installed here.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
shopt -s nullglob
local_cas=(/usr/local/share/ca-certificates/*.crt)
shopt -u nullglob
if [ ${#local_cas[@]} -gt 0 ]; then
  cp "${local_cas[@]}" "$ROOT/usr/local/share/ca-certificates/"
  in_root 'update-ca-certificates' >"$LOGS/ca.log" 2>&1 || fail network "update-ca-certificates"
  step network "resolv.conf and ${#local_cas[@]} local CA certificate(s) copied from the host"
else
  step network "resolv.conf copied from the host"
fi

# `ip netns` (the peers tests' network namespaces) makes "/" a slave mount in its own
# mount namespace, which needs "/" to be a mount point, as it is on a real machine:
# inside a chroot it is one only if the root filesystem is bind-mounted onto itself.
mount --bind "$ROOT" "$ROOT"
MOUNTED+=("$ROOT")
mount_in proc -t proc proc
mount_in sys -t sysfs sysfs
mount_in dev --rbind /dev
mount --make-rslave "$ROOT/dev"
mount_in run -t tmpfs -o mode=755 tmpfs

# --- 2. clone ----------------------------------------------------------------------
git -C "$REPO" bundle create "$ROOT/root/bodycam.bundle" "$REF" >"$LOGS/bundle.log" 2>&1 ||
  fail clone "git bundle (see $LOGS/bundle.log)"
branch_arg=""
[ "$REF" = HEAD ] || branch_arg="-b $REF"
in_root "cd /root && git -c advice.detachedHead=false clone -q $branch_arg bodycam.bundle bodycam" \
  >"$LOGS/clone.log" 2>&1 || fail clone "see $LOGS/clone.log"
rm "$ROOT/root/bodycam.bundle"
step clone "ok: $REF at $(in_root 'git -C /root/bodycam log -1 --format=%h')"

# --- 3. ./scripts/test.sh ----------------------------------------------------------
# Each line of output is prefixed with the second it arrived (test.log.stamped), so the
# time spent in setup.sh (until test.sh prints the cargo it uses) shows apart from the
# build and the tests.
stamp() {
  local line
  while IFS= read -r line || [ -n "$line" ]; do printf '%(%s)T %s\n' -1 "$line"; done
}
t0=$(now)
in_root 'cd /root/bodycam && nice ./scripts/test.sh' 2>&1 | stamp >"$LOGS/test.log.stamped" ||
  fail test.sh "exit ${PIPESTATUS[0]} after $(($(now) - t0)) s (see $LOGS/test.log.stamped)"
T_TEST=$(($(now) - t0))
cut -d' ' -f2- "$LOGS/test.log.stamped" >"$LOGS/test.log"
T_SETUP=$(($(awk '$2 == "test.sh:" {print $1; exit}' "$LOGS/test.log.stamped") - t0))
read -r PASSED FAILED_TESTS < <(awk '/^test result:/ {p += $4; f += $6} END {print p + 0, f + 0}' "$LOGS/test.log")
if [ "$PASSED" -eq 0 ] || [ "$FAILED_TESTS" -ne 0 ]; then
  fail test.sh "$PASSED passed, $FAILED_TESTS failed"
fi
TOOLS=$(grep -m1 '^test.sh: ' "$LOGS/test.log" | sed 's/^test.sh: //')
# Which of test.sh's lint steps ran (it skips fmt/clippy when the toolchain lacks them).
# shellcheck disable=SC2016 # $CARGO expands inside the chroot
LINTS=$(in_root 'cd /root/bodycam &&
  . scripts/setup.sh >/dev/null 2>&1 && bodycam_setup >/dev/null 2>&1 &&
  { "$CARGO" fmt --version >/dev/null 2>&1 && printf "fmt "; } ;
  { "$CARGO" clippy --version >/dev/null 2>&1 && printf "clippy "; } ; true')
step test.sh "ok: ${LINTS:-no fmt/clippy (skipped) }+ $PASSED passed, $FAILED_TESTS failed, ${T_TEST} s (setup ${T_SETUP} s; $TOOLS)"

# --- 4. ./scripts/dev-run.sh -------------------------------------------------------
: >"$LOGS/dev-run.log"
t0=$(now)
setsid chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash -c 'cd /root/bodycam && exec nice ./scripts/dev-run.sh' \
  >"$LOGS/dev-run.log" 2>&1 </dev/null &
DAEMON_PID=$!
# The daemon's log is coloured: strip the escapes before looking for the state change.
until sed 's/\x1b\[[0-9;]*m//g' "$LOGS/dev-run.log" | grep -q 'state change .*to="ready"'; do
  kill -0 "$DAEMON_PID" 2>/dev/null || fail dev-run "exited before ready (see $LOGS/dev-run.log)"
  [ $(($(now) - t0)) -lt "$READY_TIMEOUT" ] || fail dev-run "not ready after $READY_TIMEOUT s"
  sleep 2
done
T_READY=$(($(now) - t0))
step dev-run "ok: ready ${T_READY} s after start (build included)"

ctl() { in_root "cd /root/bodycam && target/release/bodycam ctl $*"; }
ctl button double >>"$LOGS/ctl.log" 2>&1 || fail record "ctl button double"
sleep 10
ctl button hold >>"$LOGS/ctl.log" 2>&1 || fail record "ctl button hold"
for _ in $(seq 30); do
  ctl status >"$LOGS/status.txt" 2>&1 || true
  grep -q '^state: *ready' "$LOGS/status.txt" && ! grep -q '^segments: *0 ' "$LOGS/status.txt" && break
  sleep 1
done
grep -q '^state: *ready' "$LOGS/status.txt" || fail record "not back to ready: $(head -1 "$LOGS/status.txt")"
SEGMENT=$(in_root 'cd /root/bodycam && ls bodycam-data/recordings/*/*.ts 2>/dev/null | head -1')
[ -n "$SEGMENT" ] || fail record "no segment under bodycam-data/recordings"
in_root "cd /root/bodycam && ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames \
  -show_entries format=duration -of default=noprint_wrappers=1 '$SEGMENT'" >"$LOGS/ffprobe.txt" 2>&1 ||
  fail ffprobe "ffprobe failed on $SEGMENT (see $LOGS/ffprobe.txt)"
# Frames read of the first stream with codec $1 (ffprobe lists each stream twice: under
# its program and on its own).
frames_of() {
  awk -F= -v codec="$1" '/^codec_name=/ {c = $2}
    /^nb_read_frames=/ && c == codec {print $2; exit}' "$LOGS/ffprobe.txt"
}
FRAMES=$(frames_of h264)
AUDIO=$(frames_of aac)
DURATION=$(awk -F= '/^duration=/ {printf "%.1f", $2; exit}' "$LOGS/ffprobe.txt")
if ! [[ "$FRAMES" =~ ^[1-9][0-9]*$ && "$AUDIO" =~ ^[1-9][0-9]*$ ]]; then
  fail ffprobe "h264 frames ${FRAMES:-none}, aac frames ${AUDIO:-none} in $SEGMENT"
fi
step record "ok: $SEGMENT decodes: h264 $FRAMES frames, aac $AUDIO frames, $DURATION s"

kill -INT "$DAEMON_PID"
for _ in $(seq 20); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$DAEMON_PID" 2>/dev/null; then
  fail stop "daemon still running 10 s after SIGINT"
fi
wait "$DAEMON_PID" || true
grep -q 'daemon stopped' "$LOGS/dev-run.log" || fail stop "no clean stop in $LOGS/dev-run.log"
DAEMON_PID=""
step stop "ok: Ctrl-C (SIGINT) stopped the daemon cleanly"

echo "bare-debian-check: verdict: PASS (debootstrap ${T_DEBOOTSTRAP} s; test.sh ${T_TEST} s of which setup ${T_SETUP} s, $PASSED passed, 0 failed; dev-run ready after ${T_READY} s; segment decodes, $DURATION s)"

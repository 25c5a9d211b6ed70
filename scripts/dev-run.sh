#!/usr/bin/env bash
# Quick start, part one: install what is needed and run the recorder daemon on the
# simulated camera with developer defaults (footage under ./bodycam-data).
# Extra arguments go to `bodycam run` (e.g. --config my.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
bodycam_setup
"$CARGO" build --release --quiet
cat >&2 <<'MSG'
bodycam: starting on the simulated camera. In another terminal:
  target/release/bodycam ctl status            # state, LEDs, capacity
  target/release/bodycam ctl button double     # double-press: start recording
  target/release/bodycam ctl button press      # single press while recording: marker
  target/release/bodycam ctl button hold       # press and hold 3 s: stop
  target/release/bodycam ctl button triple     # triple-press: stealth on/off
Footage: ./bodycam-data/recordings/<recording-id>/000001.ts (open in VLC or ffplay).
Ctrl-C stops the daemon cleanly.
MSG
exec target/release/bodycam run "$@"

#!/usr/bin/env bash
# Quick start, part two (and what CI runs): install what is needed, then check
# formatting and lints and run every test (real GStreamer with the simulated camera).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
bodycam_setup
echo "test.sh: $("$CARGO" --version)" >&2
if "$CARGO" fmt --version >/dev/null 2>&1; then
  "$CARGO" fmt --all -- --check
fi
if "$CARGO" clippy --version >/dev/null 2>&1; then
  # The dock-side build (default features) and the camera build (as the Pi image).
  "$CARGO" clippy --all-targets --quiet -- -D warnings
  "$CARGO" clippy --all-targets --no-default-features --quiet -- -D warnings
fi
"$CARGO" test --no-fail-fast

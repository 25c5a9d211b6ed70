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
# The camera build (--no-default-features, as the Pi image) must not link the examiner's
# stored-key X25519 (x25519-dalek, for `bodycam export`) nor the dock agent's HTTP and
# object-store stack. The default build must have them, so the check is not vacuous.
camera_crates=$("$CARGO" tree --no-default-features -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
dock_crates=$("$CARGO" tree -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
for crate in x25519-dalek curve25519-dalek reqwest object_store; do
  if grep -qx "$crate" <<<"$camera_crates"; then
    echo "test.sh: $crate is in the camera build (--no-default-features)" >&2
    exit 1
  fi
  if ! grep -qx "$crate" <<<"$dock_crates"; then
    echo "test.sh: $crate is not in the default build: the camera-build check is stale" >&2
    exit 1
  fi
done
echo "test.sh: camera build holds none of x25519-dalek, curve25519-dalek, reqwest, object_store" >&2
"$CARGO" test --no-fail-fast

#!/usr/bin/env bash
# Tests for scripts/ci-platform-checks.sh: every check must FAIL on its
# broken fixture in tests/platform/ and PASS on the real files; plus the USB
# gadget script's start/stop logic against a scratch configfs tree, and the
# power-off script's choice by exit status.
#
# Usage: scripts/test-platform-checks.sh [--no-install]
# Last line: "N passed, M failed"; exit 1 if anything failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly FIX="$ROOT/tests/platform"
readonly CHECKS="$ROOT/scripts/ci-platform-checks.sh"
readonly GADGET="$ROOT/systemd/bodycam-usb-gadget.sh"

install_arg=()
[[ "${1:-}" == --no-install ]] && install_arg=(--no-install)

passed=0
failed=0
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

ok() { passed=$((passed + 1)); printf 'ok      %s\n' "$1"; }
not_ok() {
	failed=$((failed + 1))
	printf 'NOT OK  %s\n' "$1"
	[[ -n "${2:-}" ]] && printf '%s\n' "$2" | sed 's/^/        /'
}

# run_check NAME EXPECT(pass|fail) CHECK [FILES...]
run_check() {
	local name="$1" expect="$2" check="$3" out rc
	shift 3
	out="$(bash "$CHECKS" --no-install "$check" "$@" 2>&1)"
	rc=$?
	if [[ "$expect" == pass && $rc -eq 0 ]] || [[ "$expect" == fail && $rc -ne 0 && "$out" == *FAIL* ]]; then
		ok "$name"
	else
		not_ok "$name (expected $expect, exit $rc)" "$out"
	fi
}

# Install the tools once, so each check below runs offline.
if ! bash "$CHECKS" "${install_arg[@]}" setup >"$scratch/setup.log" 2>&1; then
	cat "$scratch/setup.log"
	echo "0 passed, 1 failed"
	exit 1
fi

# --- each check fails on its broken fixture ---
run_check "oelint rejects a recipe with lint errors" fail oelint "$FIX/broken-recipe_1.0.bb"
run_check "verify rejects an unknown key and a bad value" fail verify "$FIX/unknown-key.service"
run_check "security rejects a unit with poor hardening" fail security "$FIX/poor-hardening.service"
run_check "shellcheck rejects a script with findings" fail shellcheck "$FIX/shellcheck-error.sh"
run_check "crates rejects a stale crates .inc" fail crates "$FIX/tiny-Cargo.lock" "$FIX/stale-crates.inc"
run_check "crates rejects a missing crates .inc" fail crates "$FIX/tiny-Cargo.lock" "$scratch/absent.inc"
run_check "kas rejects a malformed project" fail kas "$FIX/malformed-kas.yml"
run_check "kas rejects an unpinned layer" fail kas "$FIX/unpinned-kas.yml"
# The same project pinned by a placeholder or an abbreviated commit.
sed 's/^    branch: wrynose$/&\n    commit: "0000000000000000000000000000000000000000"/' \
	"$FIX/unpinned-kas.yml" >"$scratch/zero-kas.yml"
sed 's/^    branch: wrynose$/&\n    commit: 5d1aa5c806c0/' "$FIX/unpinned-kas.yml" >"$scratch/short-kas.yml"
run_check "kas rejects an all-zero commit" fail kas "$scratch/zero-kas.yml"
run_check "kas rejects an abbreviated commit" fail kas "$scratch/short-kas.yml"
sed 's/^    branch: wrynose$/&\n    commit: 5d1aa5c806c061a2994f4decb59016610f093213/' \
	"$FIX/unpinned-kas.yml" >"$scratch/full-kas.yml"
run_check "kas accepts the same project pinned by a full commit" pass kas "$scratch/full-kas.yml"
run_check "sysusers rejects a world-readable keys dir" fail sysusers "$ROOT/systemd/sysusers.d/bodycam.conf" "$FIX/bad-tmpfiles.conf"
# sysusers.d and the recipe's useradd must agree (systemd_sysusers_check).
sed 's#/usr/sbin/nologin#/sbin/nologin#' "$ROOT/systemd/sysusers.d/bodycam.conf" >"$scratch/shell-sysusers.conf"
run_check "sysusers rejects a shell other than the recipe's" fail sysusers "$scratch/shell-sysusers.conf" "$ROOT/systemd/tmpfiles.d/bodycam.conf"
sed 's#^\(m  *bodycam  *\)audio#\1render#' "$ROOT/systemd/sysusers.d/bodycam.conf" >"$scratch/groups-sysusers.conf"
run_check "sysusers rejects groups other than the recipe's" fail sysusers "$scratch/groups-sysusers.conf" "$ROOT/systemd/tmpfiles.d/bodycam.conf"

# --- crate list generator round trip on the fixture lock ---
if python3 "$ROOT/scripts/gen-crates-inc.py" --lock "$FIX/tiny-Cargo.lock" --output "$scratch/tiny.inc" >/dev/null &&
	grep -q 'crate://crates.io/memchr/.*;name=memchr-' "$scratch/tiny.inc"; then
	run_check "crates accepts a freshly generated .inc" pass crates "$FIX/tiny-Cargo.lock" "$scratch/tiny.inc"
else
	not_ok "gen-crates-inc.py writes the fixture .inc"
fi

# --- every check passes on the real files ---
for check in oelint crates verify security sysusers shellcheck kas; do
	run_check "$check passes on the real files" pass "$check"
done

# --- USB gadget script against a scratch configfs tree ---
gadget_test() {
	local t="$scratch/gadget" out
	mkdir -p "$t/configfs" "$t/udc/fe980000.usb"
	printf '10000000abcdef01\0' >"$t/serial"
	export BODYCAM_GADGET_CONFIGFS="$t/configfs" BODYCAM_UDC_DIR="$t/udc" BODYCAM_SERIAL_FILE="$t/serial"
	local g="$t/configfs/bodycam"
	sh "$GADGET" start 2>/dev/null || { not_ok "gadget start"; return; }
	local first
	first="$(cd "$g" && find . -type f -exec sh -c 'printf "%s=%s\n" "$1" "$(cat "$1")"' _ {} \; | sort)"
	if [[ "$(cat "$g/UDC")" == fe980000.usb && -L "$g/configs/c.1/ncm.usb0" &&
		"$(cat "$g/functions/ncm.usb0/host_addr")" != "$(cat "$g/functions/ncm.usb0/dev_addr")" ]]; then
		ok "gadget start binds the first UDC with distinct host/device MACs"
	else
		not_ok "gadget start binds the first UDC" "$first"
	fi
	out="$(sh "$GADGET" start 2>&1)"
	if [[ "$out" == *"already bound"* ]] &&
		[[ "$(cd "$g" && find . -type f -exec sh -c 'printf "%s=%s\n" "$1" "$(cat "$1")"' _ {} \; | sort)" == "$first" ]]; then
		ok "gadget start is idempotent"
	else
		not_ok "gadget start is idempotent" "$out"
	fi
	sh "$GADGET" stop 2>/dev/null
	if [[ -z "$(cat "$g/UDC")" && ! -e "$g/configs/c.1/ncm.usb0" ]]; then
		ok "gadget stop unbinds and unlinks the function"
	else
		not_ok "gadget stop unbinds and unlinks the function"
	fi
	if sh "$GADGET" start 2>/dev/null && [[ "$(cat "$g/UDC")" == fe980000.usb ]]; then
		ok "gadget restarts after stop"
	else
		not_ok "gadget restarts after stop"
	fi
	rm -rf "$t/udc/fe980000.usb"
	sh "$GADGET" stop 2>/dev/null
	if ! sh "$GADGET" start 2>/dev/null; then
		ok "gadget start fails without a USB device controller"
	else
		not_ok "gadget start fails without a USB device controller"
	fi
	unset BODYCAM_GADGET_CONFIGFS BODYCAM_UDC_DIR BODYCAM_SERIAL_FILE
}
gadget_test

# --- power-off script: systemctl poweroff only when the daemon exited 80 ---
power_off_test() {
	local t="$scratch/poweroff" script="$ROOT/systemd/bodycam-power-off.sh"
	mkdir -p "$t/bin"
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$t/calls" >"$t/bin/systemctl"
	chmod +x "$t/bin/systemctl"
	local code status
	for code_status in exited:0 exited:70 exited:78 killed:15 dumped:6; do
		code="${code_status%%:*}" status="${code_status#*:}"
		EXIT_CODE="$code" EXIT_STATUS="$status" PATH="$t/bin:$PATH" sh "$script"
	done
	env -u EXIT_CODE -u EXIT_STATUS PATH="$t/bin:$PATH" sh "$script"
	if [[ -e "$t/calls" ]]; then
		not_ok "power-off script leaves the camera on for any stop but exit 80" "$(cat "$t/calls")"
	else
		ok "power-off script leaves the camera on for any stop but exit 80"
	fi
	if EXIT_CODE=exited EXIT_STATUS=80 PATH="$t/bin:$PATH" sh "$script" &&
		[[ "$(cat "$t/calls" 2>/dev/null)" == "--no-block poweroff" ]]; then
		ok "power-off script powers off (without blocking) on exit 80"
	else
		not_ok "power-off script powers off on exit 80" "$(cat "$t/calls" 2>/dev/null)"
	fi
}
power_off_test

echo "$passed passed, $failed failed"
((failed == 0))

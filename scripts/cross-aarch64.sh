#!/usr/bin/env bash
# Cross-build bodycam for aarch64-unknown-linux-gnu (Raspberry Pi 4/5, 64-bit)
# on a Debian 12 x86_64 host and run its test suite under qemu-user.
#
# Usage:
#   scripts/cross-aarch64.sh [--no-install] [--build-only] [--release] [--smoke] [-- TEST ARGS...]
#
#   --no-install   do not touch apt (fail if something is missing)
#   --build-only   cross-build the binary, do not run the tests
#   --release      build in release mode (tests still run in the chosen mode)
#   --smoke        also run the aarch64 daemon under qemu with simulated sources
#                  (x264enc + avenc_aac), record ~8 s through `bodycam ctl`
#                  and require MPEG-TS segments on disk
#   -- ARGS        passed to `cargo test` (test name filters, --no-fail-fast)
#
# Why it looks like this (measured facts, see docs/PLATFORM.md):
# - rustup on these machines only has the x86_64 std and cannot download
#   others; Debian's rustc-web has a matching arm64 std through multiarch, so
#   this build uses /usr/bin/rustc and /usr/bin/cargo, while the x86_64 build
#   keeps rustup's toolchain. Keep dependency MSRVs within both.
# - libgstreamer-plugins-base1.0-dev:arm64 cannot be co-installed with the
#   amd64 one, so its headers and .pc files are unpacked into a private folder
#   ($XSYSROOT) whose .so links point at the real arm64 runtime libraries.
# - Under qemu-user without binfmt GStreamer cannot exec its plugin scanner:
#   GST_REGISTRY_FORK=no and a registry file of its own for aarch64.
#
# Environment overrides:
#   BODYCAM_XTARGET_DIR  cargo target dir (default: <repo>/target/aarch64)
#   BODYCAM_XSYSROOT     private dev-package folder (default: /opt/bodycam-xbuild)
set -euo pipefail

readonly TARGET=aarch64-unknown-linux-gnu
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly TARGET_DIR="${BODYCAM_XTARGET_DIR:-$ROOT/target/aarch64}"
readonly XSYSROOT="${BODYCAM_XSYSROOT:-/opt/bodycam-xbuild}"
readonly ARM_LIBDIR=/usr/lib/aarch64-linux-gnu

# Debian packages, host side (amd64 unless marked :arm64). gstreamer1.0-x
# carries textoverlay/clockoverlay on Debian (pango plugin). liborc-0.4-dev:arm64:
# gstreamer-video-1.0.pc (the overlay's gstreamer-video crate) requires orc-0.4.
readonly APT_PACKAGES=(
	rustc-web cargo-web libstd-rust-web-dev:arm64
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkgconf:arm64
	libgstreamer1.0-dev:arm64 libgstreamer-plugins-base1.0-0:arm64
	liborc-0.4-dev:arm64
	qemu-user-static binfmt-support
	gstreamer1.0-plugins-base:arm64 gstreamer1.0-plugins-good:arm64
	gstreamer1.0-plugins-ugly:arm64 gstreamer1.0-plugins-bad:arm64
	gstreamer1.0-libav:arm64 gstreamer1.0-x:arm64
)

install=1
run_tests=1
run_smoke=0
profile_args=()
test_args=()

log() { printf '[cross-aarch64] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
	sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($#)); do
	case "$1" in
	--no-install) install=0 ;;
	--build-only) run_tests=0 ;;
	--release) profile_args=(--release) ;;
	--smoke) run_smoke=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; test_args=("$@"); break ;;
	*) test_args+=("$1") ;;
	esac
	shift
done

now() { date +%s; }

apt_install_missing() {
	local -a missing=()
	local pkg status
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		((install)) || die "arm64 is not a dpkg foreign architecture (run without --no-install)"
		log "adding dpkg architecture arm64"
		dpkg --add-architecture arm64
		apt-get update -qq
	fi
	for pkg in "${APT_PACKAGES[@]}"; do
		status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
		[[ "$status" == installed ]] || missing+=("$pkg")
	done
	if ((${#missing[@]} == 0)); then
		log "apt: all ${#APT_PACKAGES[@]} packages already installed"
		return
	fi
	((install)) || die "missing packages: ${missing[*]}"
	log "apt: installing ${missing[*]}"
	if ! apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"; then
		# A stale package list is the usual cause; refresh once and retry.
		apt-get update -qq
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
	fi
}

# Unpack libgstreamer-plugins-base1.0-dev:arm64 into $XSYSROOT (idempotent:
# keyed on the package version) and make it usable by pkg-config.
private_plugins_base_dev() {
	local version stamp work deb link target pc
	version="$(apt-cache policy libgstreamer-plugins-base1.0-dev:arm64 | awk '/Candidate:/ {print $2}')"
	[[ -n "$version" && "$version" != "(none)" ]] || die "no candidate for libgstreamer-plugins-base1.0-dev:arm64"
	stamp="$XSYSROOT/.stamp-$version"
	if [[ -f "$stamp" ]]; then
		log "private plugins-base dev $version already unpacked in $XSYSROOT"
		return
	fi
	((install)) || die "$XSYSROOT is not prepared (run without --no-install)"
	work="$(mktemp -d)"
	(cd "$work" && apt-get download -qq "libgstreamer-plugins-base1.0-dev:arm64=$version")
	deb="$(ls "$work"/*.deb)"
	rm -rf "$XSYSROOT"
	mkdir -p "$XSYSROOT"
	dpkg-deb -x "$deb" "$XSYSROOT"
	rm -rf "$work"
	# The package's lib*.so links point at lib*.so.0 next to them, which are
	# not in the private folder: point them at the installed arm64 runtime.
	while IFS= read -r -d '' link; do
		target="$(readlink "$link")"
		ln -sfn "$ARM_LIBDIR/$(basename "$target")" "$link"
	done < <(find "$XSYSROOT/usr/lib" -type l -name '*.so' -print0)
	for pc in "$XSYSROOT$ARM_LIBDIR"/pkgconfig/*.pc; do
		sed -i "s|^prefix=.*|prefix=$XSYSROOT/usr|" "$pc"
	done
	touch "$stamp"
	log "unpacked libgstreamer-plugins-base1.0-dev:arm64 $version into $XSYSROOT"
}

cross_env() {
	export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	export CARGO_TARGET_DIR="$TARGET_DIR"
	export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
	export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
	export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
	export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
	export PKG_CONFIG_ALLOW_CROSS=1
	export PKG_CONFIG_aarch64_unknown_linux_gnu=aarch64-linux-gnu-pkg-config
	export PKG_CONFIG_LIBDIR_aarch64_unknown_linux_gnu="$ARM_LIBDIR/pkgconfig:/usr/share/pkgconfig"
	export PKG_CONFIG_PATH_aarch64_unknown_linux_gnu="$XSYSROOT$ARM_LIBDIR/pkgconfig"
	# GStreamer under qemu-user: no forked plugin scanner, own registry file.
	export GST_REGISTRY_FORK=no
	export GST_REGISTRY="$TARGET_DIR/gst-registry-aarch64.bin"
}

# Run the cross-built daemon under qemu-user with simulated sources: proves
# the aarch64 binary, its GStreamer libraries and the arm64 plugins together.
smoke() {
	local bin="$1" dir pid segments waited=0
	dir="$(mktemp -d)"
	mkdir -p "$dir/data"
	printf '%s\n' \
		'[camera]' 'source = "simulated"' 'width = 640' 'height = 480' 'framerate = 15' \
		'encoder = "x264"' \
		'[audio]' 'enabled = true' 'source = "simulated"' \
		'[recording]' 'segment_seconds = 2' \
		'[storage]' "path = \"$dir/data\"" 'reserve_hours = 0' \
		'[controls]' 'backend = "simulated"' \
		'[ctl]' "socket = \"$dir/ctl.sock\"" >"$dir/smoke.toml"
	qemu-aarch64-static "$bin" run --config "$dir/smoke.toml" >"$dir/run.log" 2>&1 &
	pid=$!
	until [[ -S "$dir/ctl.sock" ]]; do
		if ! kill -0 "$pid" 2>/dev/null || ((waited >= 120)); then
			kill "$pid" 2>/dev/null || true
			tail -20 "$dir/run.log" >&2
			die "smoke: the daemon did not open its control socket"
		fi
		sleep 1
		waited=$((waited + 1))
	done
	qemu-aarch64-static "$bin" ctl --config "$dir/smoke.toml" record start
	sleep 8
	qemu-aarch64-static "$bin" ctl --config "$dir/smoke.toml" record stop
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	if ((rc != 0)); then
		tail -20 "$dir/run.log" >&2
		die "smoke: the daemon exited $rc on SIGTERM (expected 0)"
	fi
	segments="$(find "$dir/data" -name '*.ts' -size +1k | wc -l)"
	if ((segments == 0)); then
		tail -20 "$dir/run.log" >&2
		die "smoke: no segments written"
	fi
	local seg
	for seg in "$dir"/data/recordings/*/*.ts; do
		if ! ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$seg" >/dev/null; then
			die "smoke: $seg does not decode"
		fi
	done
	# The footage signed on aarch64 must verify (with the host's verifier, when built).
	local host_bin="$ROOT/target/debug/bodycam"
	if [[ -x "$host_bin" ]]; then
		if ! "$host_bin" verify --trust-store-key "$dir/data" >"$dir/verify.txt" 2>&1; then
			cat "$dir/verify.txt" >&2
			die "smoke: the store recorded on aarch64 does not verify"
		fi
		log "smoke: $(tail -1 "$dir/verify.txt")"
	fi
	log "smoke: the aarch64 daemon under qemu wrote $segments MPEG-TS segments that decode ($dir)"
}

main() {
	local t0 t_apt t_build t_test
	t0="$(now)"
	apt_install_missing
	private_plugins_base_dev
	t_apt="$(now)"
	log "setup took $((t_apt - t0)) s"

	[[ -x /usr/bin/cargo && -x /usr/bin/rustc ]] || die "/usr/bin/cargo or /usr/bin/rustc missing"
	cross_env
	mkdir -p "$TARGET_DIR"
	cd "$ROOT"
	log "rustc: $(/usr/bin/rustc --version)"

	# The camera firmware, as the Yocto recipe builds it: without the dock agent.
	/usr/bin/cargo build --locked --no-default-features --target "$TARGET" --bins "${profile_args[@]}"
	t_build="$(now)"
	log "cross build took $((t_build - t_apt)) s"
	local profile=debug
	[[ ${#profile_args[@]} -eq 0 ]] || profile=release
	local bin="$TARGET_DIR/$TARGET/$profile/bodycam"
	[[ -f "$bin" ]] || die "expected binary $bin was not produced"
	if command -v file >/dev/null; then
		log "built: $bin ($(file -b "$bin" | cut -d, -f1-2))"
	fi

	if ((run_smoke)); then
		smoke "$bin"
	fi
	if ((run_tests)); then
		/usr/bin/cargo test --locked --no-default-features --target "$TARGET" "${profile_args[@]}" "${test_args[@]}"
		t_test="$(now)"
		log "cargo test under qemu took $((t_test - t_build)) s"
	fi
	log "total $(($(now) - t0)) s"
}

main

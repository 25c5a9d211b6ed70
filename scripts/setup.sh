#!/usr/bin/env bash
# Installs what building and testing bodycam needs on Debian 12 (bookworm):
# GStreamer 1.22 with the plugins the recorder uses, ffmpeg (ffprobe for tests), gpsd
# and python3-gps (the location tests),
# and a Rust toolchain >= 1.94 (the machine's rustup one if present, else Debian's
# rustc-web/cargo-web 1.96 from bookworm-security), and Azurite from npm for the
# dock-agent tests.
# Source it (`. scripts/setup.sh`) and call `bodycam_setup`; idempotent and quiet when
# everything is already there. Sets CARGO to the cargo to use.

BODYCAM_APT_PACKAGES=(
  # A C toolchain: build scripts (proc-macro2, ring, ...) need a linker and libc headers,
  # and a minimal Debian has neither.
  gcc libc6-dev pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools gstreamer1.0-x
  gstreamer1.0-plugins-base-apps ffmpeg curl
  # The location tests and benchmark: Debian's gpsd, driven by gpsfake's machinery
  # (python3-gps); `ip` creates the network namespaces of the peer tests.
  gpsd python3-gps iproute2
)

bodycam_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup: need root (or sudo) to run: $*" >&2
    return 1
  fi
}

bodycam_apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  bodycam_as_root apt-get update -qq
  bodycam_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
}

# Succeeds when "$1 --version" reports at least Rust 1.94.
bodycam_cargo_ok() {
  local v
  v=$("$1" --version 2>/dev/null | awk '{print $2}') || return 1
  [ -n "$v" ] || return 1
  local major minor
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 94 ]; }
}

# Azurite (Azure Blob Storage emulator) for the dock-agent tests, pinned by
# scripts/azurite/package-lock.json, installed into scripts/azurite/node_modules.
bodycam_azurite_install() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/azurite"
  [ -x "$dir/node_modules/.bin/azurite-blob" ] && return 0
  command -v npm >/dev/null 2>&1 || bodycam_apt_install nodejs npm
  echo "setup: installing Azurite from npm into $dir" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

bodycam_setup() {
  bodycam_apt_install "${BODYCAM_APT_PACKAGES[@]}"
  bodycam_azurite_install
  if [ -x "$HOME/.cargo/bin/cargo" ] && bodycam_cargo_ok "$HOME/.cargo/bin/cargo"; then
    CARGO="$HOME/.cargo/bin/cargo"
  elif command -v cargo >/dev/null 2>&1 && bodycam_cargo_ok cargo; then
    CARGO=$(command -v cargo)
  else
    bodycam_apt_install rustc-web cargo-web
    CARGO=/usr/bin/cargo
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
  fi
  export CARGO
}

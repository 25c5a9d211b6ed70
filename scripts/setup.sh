#!/usr/bin/env bash
# Installs what building and testing bodycam needs on Debian 12 (bookworm):
# a C toolchain, GStreamer 1.22 with the plugins the recorder uses, ffmpeg (ffprobe for
# tests), curl, gpsd and python3-gps (the location tests), iproute2 (the peer tests'
# network namespaces), Node.js and Azurite from npm for the dock-agent tests, and a Rust
# toolchain >= 1.94: the machine's rustup one if present, else Debian's rustc-web/cargo-web
# (1.96, with rustfmt and clippy, from bookworm-security, which is added to apt's sources
# when missing: a minimal install has only `bookworm main`, where rustc-web is 1.85).
# Source it (`. scripts/setup.sh`) and call `bodycam_setup`; idempotent and quiet when
# everything is already there. Sets CARGO to the cargo to use; fails with a message when
# no Rust >= 1.94 can be had.
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
  # libcamerasrc: the Pi camera's description is parsed with its overlay in the tests
  # (no camera needed; the element only has to exist).
  gstreamer1.0-libcamera
  # The independent Python decrypter of docs/EVIDENCE-FORMAT.md section 9
  # (scripts/spec-check/) runs in a venv of its own.
  python3 python3-venv
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

BODYCAM_RUST_MIN=1.94

# The version "$1 --version" reports ("cargo 1.96.0 (...)" -> 1.96.0), or nothing.
bodycam_tool_version() {
  "$1" --version 2>/dev/null | awk 'NR == 1 {print $2}'
}

# Succeeds when "$1 --version" reports at least Rust $BODYCAM_RUST_MIN.
bodycam_cargo_ok() {
  local v
  v=$(bodycam_tool_version "$1")
  [ -n "$v" ] && dpkg --compare-versions "$v" ge "$BODYCAM_RUST_MIN"
}

# apt's candidate version of package $1, or nothing.
bodycam_apt_candidate() {
  apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" {print $2}'
}

# Makes bookworm-security one of apt's sources. A minimal Debian 12 (debootstrap) lists
# only `bookworm main`. The security suite is added beside the mirror that serves
# bookworm, under its debian-security path, as Debian's own installer writes it.
bodycam_apt_add_security() {
  local targets site list
  # $(SITE) and $(RELEASE) are apt's own placeholders, not shell expansions.
  # shellcheck disable=SC2016
  targets=$(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null | sort -u)
  if grep -q ' bookworm-security$' <<<"$targets"; then
    return 0
  fi
  site=$(awk '$2 == "bookworm" {print $1; exit}' <<<"$targets")
  case "$site" in
    */debian) ;;
    *)
      echo "setup: cannot derive a bookworm-security source from '${site:-no bookworm source}';" \
        "add bookworm-security to apt's sources and rerun" >&2
      return 1
      ;;
  esac
  list=/etc/apt/sources.list.d/bodycam-bookworm-security.list
  echo "setup: adding bookworm-security to apt's sources ($list)" >&2
  echo "deb ${site%/debian}/debian-security bookworm-security main" |
    bodycam_as_root tee "$list" >/dev/null
  bodycam_as_root apt-get update -qq
}

# Debian's Rust: rustc-web/cargo-web with matching rustfmt and clippy, at least
# $BODYCAM_RUST_MIN (bookworm's own is 1.85; bookworm-security carries 1.96).
BODYCAM_DEBIAN_RUST=(rustc-web cargo-web rustfmt-web rust-web-clippy)
bodycam_debian_rust() {
  if bodycam_cargo_ok /usr/bin/cargo && bodycam_cargo_ok /usr/bin/rustc; then
    bodycam_apt_install "${BODYCAM_DEBIAN_RUST[@]}"
    return
  fi
  if [ -z "$(bodycam_apt_candidate rustc-web)" ]; then
    bodycam_as_root apt-get update -qq
  fi
  local cand
  cand=$(bodycam_apt_candidate rustc-web)
  if [ -z "$cand" ] || dpkg --compare-versions "$cand" lt "$BODYCAM_RUST_MIN"; then
    bodycam_apt_add_security || return 1
    cand=$(bodycam_apt_candidate rustc-web)
  fi
  if [ -z "$cand" ] || dpkg --compare-versions "$cand" lt "$BODYCAM_RUST_MIN"; then
    echo "setup: apt offers rustc-web ${cand:-(none)}, but bodycam needs Rust >= $BODYCAM_RUST_MIN;" \
      "install Rust >= $BODYCAM_RUST_MIN with rustup and rerun" >&2
    return 1
  fi
  echo "setup: installing Debian's Rust $cand (${BODYCAM_DEBIAN_RUST[*]})" >&2
  # `install` also upgrades an older rustc-web that is already there.
  bodycam_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    -o DPkg::Lock::Timeout=600 --no-install-recommends "${BODYCAM_DEBIAN_RUST[@]}" >/dev/null
  if ! bodycam_cargo_ok /usr/bin/cargo || ! bodycam_cargo_ok /usr/bin/rustc; then
    echo "setup: Debian's Rust is $(bodycam_tool_version /usr/bin/rustc) after install," \
      "bodycam needs >= $BODYCAM_RUST_MIN" >&2
    return 1
  fi
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

# The venv of scripts/spec-check/decrypt_sealed.py: PyPI's `cryptography` (Ed25519,
# X25519, HKDF-SHA-256, ChaCha20-Poly1305), pinned. The integration test
# spec_decrypter:: runs its python (or $BODYCAM_SPEC_PYTHON).
BODYCAM_SPEC_CRYPTOGRAPHY=48.0.0
BODYCAM_SPEC_VENV="${BODYCAM_SPEC_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bodycam-spec-check-venv}"
bodycam_spec_venv_install() {
  local py="$BODYCAM_SPEC_VENV/bin/python3"
  if [ -x "$py" ] && [ "$("$py" -c 'import cryptography; print(cryptography.__version__)' 2>/dev/null)" = "$BODYCAM_SPEC_CRYPTOGRAPHY" ]; then
    return 0
  fi
  echo "setup: installing cryptography==$BODYCAM_SPEC_CRYPTOGRAPHY into $BODYCAM_SPEC_VENV" >&2
  python3 -m venv "$BODYCAM_SPEC_VENV"
  "$BODYCAM_SPEC_VENV/bin/pip" install -q --disable-pip-version-check \
    "cryptography==$BODYCAM_SPEC_CRYPTOGRAPHY"
}

bodycam_setup() {
  bodycam_apt_install "${BODYCAM_APT_PACKAGES[@]}"
  bodycam_azurite_install
  bodycam_spec_venv_install
  if [ -x "$HOME/.cargo/bin/cargo" ] && bodycam_cargo_ok "$HOME/.cargo/bin/cargo"; then
    CARGO="$HOME/.cargo/bin/cargo"
  elif command -v cargo >/dev/null 2>&1 && bodycam_cargo_ok cargo; then
    CARGO=$(command -v cargo)
  else
    bodycam_debian_rust || return 1
    CARGO=/usr/bin/cargo
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
  fi
  export CARGO
}

#!/usr/bin/env bash
# Proves the Yocto layer (yocto-layer/, meta-bodycam) with bitbake itself,
# from local checkouts of the layers the kas files pin. Never fetches them:
# CI has no network to their hosts. Steps, one verdict line each:
#
#   host          host tools oe-core needs (HOSTTOOLS), the en_US.UTF-8
#                 locale, an unprivileged user (bitbake refuses root)
#   pins          every checkout is at the commit its kas file pins
#   parse         `bitbake -p` with DISTRO = "bodycam", per kas project
#   graph         `bitbake -g bodycam-image`, per kas project: the image
#                 resolves, with the recipes the recorder needs
#   config        what the distro must give the image, per kas project (read
#                 with tinfoil): the GStreamer/libcamera package options the
#                 recorder needs, the recorder recipe enabled, /var/log on a
#                 tmpfs, no serial console while the UART is off
#   parse-default `bitbake -p` with the default distro (nodistro): the layer
#                 must parse, and stay harmless, for other distros too
#   skipped-default  the recorder recipe is skipped there for its licence
#                 flag (the commercial codecs are not accepted)
#   check-layer   oe-core's yocto-check-layer on the layer, default distro,
#                 MACHINE qemux86-64, with its dependency layers (the slow
#                 step: ~25 min on 2 cores)
#
# Usage:
#   scripts/yocto-check.sh [options] [BITBAKE OE_CORE META_OE META_RPI]
# The four checkouts may also be given as YOCTO_BITBAKE, YOCTO_OE_CORE,
# YOCTO_META_OE and YOCTO_META_RPI. Options:
#   --build-dir DIR     build directories go here
#                       (YOCTO_BUILD_DIR, default /var/tmp/bodycam-yocto-check)
#   --user NAME         unprivileged user to run bitbake as when started as
#                       root; created (system user, no login) if missing
#                       (YOCTO_CHECK_USER, default yoctocheck)
#   --kas FILE          kas project to check (repeatable; default every
#                       yocto-layer/kas/bodycam-*.yml but the common include).
#                       parse-default uses the first one's machine; both it
#                       and check-layer use the first one's layers.
#   --layer DIR         check this copy of yocto-layer/ instead (the kas
#                       files are still read from this repository)
#   --skip-check-layer  leave out yocto-check-layer
#   --any-revision      accept checkouts at other commits than the pins (the
#                       pins verdict then says which differ, and fails)
#   --no-install        install nothing (Debian packages, locale, user, the
#                       kas venv of ci-platform-checks.sh); report what is
#                       missing instead
#
# Host packages (Debian 12), installed when run as root: gawk chrpath cpio
# diffstat file rpcsvc-proto locales (plus what a Debian 12 with git and a C
# compiler already has). bitbake and oe-core need nothing from PyPI for these
# steps: Debian's python3 (3.11) and its standard library are enough. kas
# (PyPI, in ci-platform-checks.sh's venv) reads the kas files.
#
# Every bitbake step runs under `nice -n 19`, with BB_NO_NETWORK = "1".
# Logs: BUILD_DIR/logs/STEP.log. Last line: "yocto-check: N passed, M failed";
# exit 1 if any step failed, 2 on a usage error.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
# The layer under test; --layer points it at a copy (e.g. a broken one, to
# see a step fail).
LAYER="$ROOT/yocto-layer"
readonly VENV="${BODYCAM_CI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bodycam-platform-ci-venv}"

# Debian packages giving oe-core's HOSTTOOLS that a Debian 12 with git and a
# C compiler lacks, and the locale bitbake switches to.
readonly HOST_PACKAGES=(gawk chrpath cpio diffstat file rpcsvc-proto locales)

# Warnings of a parse that are accepted, as extended regular expressions,
# each with the reason. None so far: every warning fails its step.
readonly ACCEPTED_WARNINGS=()

# Recipes the image must pull in (graph step): the recorder, the camera
# stack and the encoders/muxers its pipelines use.
readonly GRAPH_MUST_HAVE=(bodycam libcamera gstreamer1.0 gstreamer1.0-plugins-base
	gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
	x264 gstreamer1.0-libav)

bitbake_dir="${YOCTO_BITBAKE:-}"
oecore_dir="${YOCTO_OE_CORE:-}"
metaoe_dir="${YOCTO_META_OE:-}"
metarpi_dir="${YOCTO_META_RPI:-}"
build_root="${YOCTO_BUILD_DIR:-/var/tmp/bodycam-yocto-check}"
user="${YOCTO_CHECK_USER:-yoctocheck}"
kas_files=()
check_layer=1
any_revision=0
install=1

passes=0
failures=0
log() { printf '[yocto-check] %s\n' "$*" >&2; }
pass() { passes=$((passes + 1)); printf 'PASS %s\n' "$*"; }
fail() { failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }
usage() {
	sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

elapsed() { # SECONDS_START -> "116 s" or "24 min 3 s"
	local s=$(($(date +%s) - $1))
	if ((s < 120)); then printf '%d s' "$s"; else printf '%d min %d s' $((s / 60)) $((s % 60)); fi
}

# Indented excerpt of a log for a FAIL line: errors first, then warnings.
excerpt() {
	{ grep -E '^(ERROR|FATAL)' "$1"; grep -E '^WARNING' "$1"; } 2>/dev/null | head -"${2:-15}" | sed 's/^/    /'
	printf '    (log: %s)\n' "$1"
}

parse_args() {
	local positional=()
	while (($#)); do
		case "$1" in
		--build-dir) build_root="${2:?}"; shift ;;
		--user) user="${2:?}"; shift ;;
		--kas) kas_files+=("$(realpath "${2:?}")"); shift ;;
		--layer) LAYER="$(realpath "${2:?}")"; shift ;;
		--skip-check-layer) check_layer=0 ;;
		--any-revision) any_revision=1 ;;
		--no-install) install=0 ;;
		-h | --help) usage ;;
		-*) log "unknown option $1"; usage ;;
		*) positional+=("$1") ;;
		esac
		shift
	done
	if ((${#positional[@]} == 4)); then
		bitbake_dir="${positional[0]}" oecore_dir="${positional[1]}"
		metaoe_dir="${positional[2]}" metarpi_dir="${positional[3]}"
	elif ((${#positional[@]})); then
		log "give all four checkouts or none (then YOCTO_BITBAKE etc.)"
		usage
	fi
	local name dir
	for name in bitbake_dir oecore_dir metaoe_dir metarpi_dir; do
		dir="${!name}"
		[[ -n "$dir" && -d "$dir" ]] || { log "${name%_dir} checkout missing: '${dir}'"; usage; }
		printf -v "$name" '%s' "$(realpath "$dir")"
	done
	[[ -f "$bitbake_dir/bin/bitbake" ]] || { log "$bitbake_dir has no bin/bitbake"; exit 2; }
	[[ -f "$oecore_dir/meta/conf/bitbake.conf" ]] || { log "$oecore_dir is not openembedded-core"; exit 2; }
	if ((${#kas_files[@]} == 0)); then
		mapfile -t kas_files < <(find "$LAYER/kas" -name 'bodycam-*.yml' ! -name '*-common.yml' | sort)
	fi
	build_root="$(realpath -m "$build_root")"
}

# --- host ---------------------------------------------------------------------
# Run a command as the unprivileged user in a clean environment, niced.
# BB_ENV_PASSTHROUGH_ADDITIONS is left unset: bitbake sees only this.
as_user() { # DIR CMD...
	local dir="$1"
	shift
	local -a envv=(
		HOME="$build_root/home" USER="$user" LOGNAME="$user" SHELL=/bin/sh TERM=dumb
		LANG=en_US.UTF-8 BUILDDIR="$dir"
		PATH="$bitbake_dir/bin:$oecore_dir/scripts:/usr/local/bin:/usr/bin:/bin"
		PYTHONPATH="$bitbake_dir/lib"
	)
	if ((EUID == 0)); then
		(cd "$dir" && runuser -u "$user" -- env -i "${envv[@]}" nice -n 19 "$@")
	else
		(cd "$dir" && env -i "${envv[@]}" nice -n 19 "$@")
	fi
}

check_host() {
	local -a missing_pkgs=() missing_tools=() notes=()
	local pkg
	for pkg in "${HOST_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing_pkgs+=("$pkg")
	done
	if ((${#missing_pkgs[@]})) && ((install && EUID == 0)); then
		log "installing ${missing_pkgs[*]} (apt)"
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing_pkgs[@]}" >/dev/null ||
			{ apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing_pkgs[@]}" >/dev/null; }
		notes+=("installed ${missing_pkgs[*]}")
	fi
	# HOSTTOOLS as oe-core lists them (the unconditional ones).
	local tool
	for tool in $(sed -n '/^HOSTTOOLS += " \\$/,/^"$/p' "$oecore_dir/meta/conf/bitbake.conf" | tr -d '\\"' | sed 's/HOSTTOOLS += //'); do
		PATH=/usr/local/bin:/usr/bin:/bin command -v "$tool" >/dev/null || missing_tools+=("$tool")
	done
	if ! locale -a 2>/dev/null | grep -qix 'en_US.utf-\{0,1\}8'; then
		if ((install && EUID == 0)) && [[ -f /etc/locale.gen ]]; then
			sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
			grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
			locale-gen >/dev/null 2>&1
			notes+=("generated en_US.UTF-8")
		fi
		locale -a 2>/dev/null | grep -qix 'en_US.utf-\{0,1\}8' || missing_tools+=("locale en_US.UTF-8")
	fi
	if ((EUID == 0)); then
		if ! id -u "$user" >/dev/null 2>&1; then
			if ((install)); then
				useradd --system --no-create-home --home-dir "$build_root/home" --shell /usr/sbin/nologin "$user" &&
					notes+=("created user $user")
			fi
		fi
		if ! id -u "$user" >/dev/null 2>&1; then
			missing_tools+=("user $user")
		elif (($(id -u "$user") == 0)); then
			missing_tools+=("user $user is root")
		fi
	else
		user="$(id -un)"
	fi
	if ((${#missing_tools[@]})); then
		fail "host: missing ${missing_tools[*]}${missing_pkgs[*]:+ (Debian packages: ${missing_pkgs[*]})}"
		return 1
	fi
	mkdir -p "$build_root/home" "$build_root/logs"
	# The checkouts and this repository belong to someone else: let git (bitbake
	# reads layer revisions with it) look at them anyway.
	printf '[safe]\n\tdirectory = *\n' >"$build_root/home/.gitconfig"
	((EUID == 0)) && chown -R "$user:" "$build_root"
	local py
	py="$(as_user "$build_root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>&1)" ||
		{ fail "host: python3 does not run as $user: $py"; return 1; }
	pass "host: HOSTTOOLS present, en_US.UTF-8, python3 $py, bitbake runs as $user (uid $(id -u "$user"))${notes[*]:+; ${notes[*]}}"
}

# --- kas ------------------------------------------------------------------------
# Read a kas project with kas's own loader and print what a build directory
# needs, one "key value" per line:
#   machine M / distro D / target T / conf LINE (local_conf_header, in kas's
#   order) / layer REPO PATH (in kas's repo order) / pin REPO COMMIT
kas_read() { # KAS_FILE
	(cd "$ROOT" && KAS_WORK_DIR="$build_root" "$VENV/bin/python" - "$1" <<'PY'
import argparse
import sys

from kas.context import create_global_context
from kas.includehandler import IncludeHandler

create_global_context(argparse.Namespace(no_color=True, update=False, force_checkout=False))
config, missing = IncludeHandler([sys.argv[1]]).get_config()
if missing:
    sys.exit(f"unresolved includes: {missing}")
for key in ("machine", "distro", "target"):
    value = config.get(key)
    if isinstance(value, list):
        value = " ".join(value)
    print(key, value or "")
for _, text in sorted((config.get("local_conf_header") or {}).items()):
    for line in text.splitlines():
        print("conf", line)
for name, repo in (config.get("repos") or {}).items():
    repo = repo or {}
    if repo.get("commit"):
        print("pin", name, repo["commit"])
    layers = repo.get("layers")
    if layers is None:
        layers = {".": None}
    for path, state in layers.items():
        if state not in ("disabled", "excluded", "n", "no", "0", "false", 0, False):
            print("layer", name, path)
PY
	)
}

repo_dir() { # kas repo name -> checkout
	case "$1" in
	meta-bodycam) printf '%s' "$ROOT" ;;
	bitbake) printf '%s' "$bitbake_dir" ;;
	openembedded-core) printf '%s' "$oecore_dir" ;;
	meta-openembedded) printf '%s' "$metaoe_dir" ;;
	meta-raspberrypi) printf '%s' "$metarpi_dir" ;;
	*) return 1 ;;
	esac
}

# Loads one kas project into kas_machine, kas_distro, kas_target,
# kas_conf (lines), kas_layers (paths), kas_pins ("repo commit").
load_kas() { # KAS_FILE
	local out key a b dir
	out="$(kas_read "$1" 2>&1)" || { printf '%s\n' "$out"; return 1; }
	kas_machine="" kas_distro="" kas_target="" kas_conf=() kas_layers=() kas_pins=()
	while IFS= read -r key; do
		case "$key" in
		"machine "*) kas_machine="${key#machine }" ;;
		"distro "*) kas_distro="${key#distro }" ;;
		"target "*) kas_target="${key#target }" ;;
		"conf "* | conf) kas_conf+=("${key#conf}") ;;
		"pin "*) kas_pins+=("${key#pin }") ;;
		"layer "*)
			read -r a b <<<"${key#layer }"
			dir="$(repo_dir "$a")" || { echo "no checkout for kas repo $a"; return 1; }
			dir="$(realpath -m "$dir/$b")"
			[[ "$dir" == "$ROOT/yocto-layer" ]] && dir="$LAYER"
			kas_layers+=("$dir")
			;;
		esac
	done <<<"$out"
}

check_pins() {
	local file pin name commit dir head bad=() seen=()
	for file in "${kas_files[@]}"; do
		load_kas "$file" >"$build_root/logs/kas.log" 2>&1 || {
			fail "pins: kas cannot load ${file#"$ROOT"/}"
			excerpt "$build_root/logs/kas.log"
			return 1
		}
		for pin in "${kas_pins[@]}"; do
			read -r name commit <<<"$pin"
			[[ " ${seen[*]} " == *" $name "* ]] && continue
			seen+=("$name")
			dir="$(repo_dir "$name")" || { bad+=("$name: no checkout"); continue; }
			head="$(git -c safe.directory='*' -C "$dir" rev-parse HEAD 2>/dev/null)" || head="(not a git checkout)"
			[[ "$head" == "$commit" ]] || bad+=("$name at $head, pinned $commit")
		done
	done
	if ((${#bad[@]})); then
		fail "pins: ${bad[*]}"
		((any_revision)) || return 1
	else
		pass "pins: ${seen[*]} checked out at their kas commits"
	fi
}

# --- build directories ---------------------------------------------------------
# Write conf/ for a build directory from the loaded kas project.
#   DISTRO_MODE: kas (DISTRO from kas) or default (no DISTRO: nodistro)
#   LAYER_MODE:  all (every kas layer) or core (oe-core's meta only, for
#                yocto-check-layer, which adds the others itself)
#   MACHINE:     instead of the kas machine
write_build_dir() { # DIR DISTRO_MODE LAYER_MODE [MACHINE]
	local dir="$1" distro_mode="$2" layer_mode="$3" machine="${4:-$kas_machine}" line layer
	local lconf localconf
	lconf="$(sed -n 's/^LAYER_CONF_VERSION *?= *"\(.*\)"/\1/p' "$oecore_dir/meta/conf/sanity.conf")"
	localconf="$(sed -n 's/^LOCALCONF_VERSION *?= *"\(.*\)"/\1/p' "$oecore_dir/meta/conf/sanity.conf")"
	mkdir -p "$dir/conf"
	{
		echo "# Written by scripts/yocto-check.sh from the kas files; rewritten on each run."
		echo "LCONF_VERSION = \"$lconf\""
		cat <<'CONF'
BBPATH = "${TOPDIR}"
BBFILES ?= ""
BBLAYERS ?= " \
CONF
		for layer in "${kas_layers[@]}"; do
			if [[ "$layer_mode" == all || "$layer" == "$oecore_dir/meta" ]]; then
				echo "    $layer \\"
			fi
		done
		echo '"'
	} >"$dir/conf/bblayers.conf"
	{
		echo "# Written by scripts/yocto-check.sh from the kas files; rewritten on each run."
		echo "# kas local_conf_header:"
		for line in "${kas_conf[@]}"; do printf '%s\n' "${line# }"; done
		echo
		echo "# kas machine/distro:"
		echo "MACHINE ??= \"$machine\""
		if [[ "$distro_mode" == kas ]]; then
			echo "DISTRO ??= \"$kas_distro\""
		else
			echo "# DISTRO unset: oe-core's default distro (nodistro)."
		fi
		echo
		echo "# yocto-check.sh: parse only, nothing is fetched or built."
		echo 'BB_NO_NETWORK = "1"'
		echo "DL_DIR = \"$build_root/downloads\""
		echo "CONF_VERSION = \"$localconf\""
	} >"$dir/conf/local.conf"
	((EUID == 0)) && chown -R "$user:" "$dir"
	return 0
}

# Counts and judges a bitbake log: sets log_warnings, log_errors, log_recipes.
judge_log() { # LOG
	local pattern
	log_errors="$(grep -cE '^(ERROR|FATAL):' "$1")"
	log_warnings=0
	while IFS= read -r line; do
		for pattern in "${ACCEPTED_WARNINGS[@]}"; do
			[[ "$line" =~ $pattern ]] && continue 2
		done
		log_warnings=$((log_warnings + 1))
	done < <(grep -E '^WARNING:' "$1")
	log_recipes="$(sed -n 's/^Parsing of \([0-9]*\) .bb files complete.*/\1/p' "$1" | tail -1)"
	log_summary="$(grep -E '^Parsing of [0-9]+ .bb files complete' "$1" | tail -1 | sed 's/^Parsing of [0-9]* .bb files complete ([^)]*)\. *//')"
}

check_parse() { # SLUG NAME DIR
	local logf="$build_root/logs/$1.log" name="$2" dir="$3" start rc
	start="$(date +%s)"
	# A recipe loaded from the cache is not parsed again, and its parse-time
	# warnings are not repeated: drop the recipe cache so every run parses.
	rm -rf "$dir/tmp/cache"
	as_user "$dir" bitbake -p >"$logf" 2>&1
	rc=$?
	judge_log "$logf"
	local what
	what="$log_recipes recipes (${log_summary:-no parse summary}), $log_warnings warnings, $log_errors errors ($(elapsed "$start"))"
	if ((rc == 0 && log_errors == 0 && log_warnings == 0)) && [[ -n "$log_recipes" ]]; then
		pass "$name: $what"
	else
		fail "$name: exit $rc, $what"
		excerpt "$logf"
	fi
}

# Under the default distro the recorder recipe must be skipped, for its
# commercial licence flag, rather than parse with plugins that do not exist
# there (yocto-check-layer's world tests would then fail).
check_skipped() { # SLUG NAME DIR PN
	local logf="$build_root/logs/$1.log" name="$2" dir="$3" pn="$4" start rc out
	start="$(date +%s)"
	as_user "$dir" python3 - "$pn" >"$logf" 2>&1 <<'PY'
import sys

import bb.tinfoil

pn = sys.argv[1]
with bb.tinfoil.Tinfoil() as tinfoil:
    tinfoil.prepare(quiet=2)
    reasons = [info.skipreason for info in tinfoil.get_skipped_recipes().values() if info.pn == pn]
print("VERDICT", f"{pn} skipped: {reasons[0]}" if reasons else f"{pn} is not skipped")
sys.exit(0 if reasons and "commercial" in reasons[0] else 1)
PY
	rc=$?
	out="$(sed -n 's/^VERDICT //p' "$logf" | tr -s '\n' ' ' | sed 's/ *$//')"
	if ((rc == 0)); then
		pass "$name: $out ($(elapsed "$start"))"
	else
		fail "$name: exit $rc; ${out:-see log}"
		tail -5 "$logf" | sed 's/^/    /'
	fi
}

check_graph() { # SLUG NAME DIR TARGET
	local logf="$build_root/logs/$1.log" name="$2" dir="$3" target="$4" start rc
	start="$(date +%s)"
	rm -f "$dir/pn-buildlist" "$dir/task-depends.dot"
	as_user "$dir" bitbake -g "$target" >"$logf" 2>&1
	rc=$?
	judge_log "$logf"
	local count=0 missing=() pn
	if [[ -f "$dir/pn-buildlist" ]]; then
		count="$(wc -l <"$dir/pn-buildlist")"
		for pn in "${GRAPH_MUST_HAVE[@]}"; do
			grep -qx "$pn" "$dir/pn-buildlist" || missing+=("$pn")
		done
	fi
	local what
	what="$target needs $count recipes, $log_warnings warnings, $log_errors errors"
	if ((rc == 0 && log_errors == 0 && log_warnings == 0 && count > 0 && ${#missing[@]} == 0)); then
		pass "$name: $what; includes ${GRAPH_MUST_HAVE[*]} ($(elapsed "$start"))"
	else
		fail "$name: exit $rc, $what${missing[*]:+; missing ${missing[*]}} ($(elapsed "$start"))"
		excerpt "$logf"
	fi
}

# What the bodycam distro must give the image, read from the parsed recipes
# with tinfoil (bitbake's Python API): the package options of the elements
# the recorder's pipelines create, the recorder recipe enabled (its licence
# flag accepted) and free of the distro override, logs on a tmpfs, and no
# serial console while the UART is off.
check_config() { # SLUG NAME DIR
	local logf="$build_root/logs/$1.log" name="$2" dir="$3" start rc out
	start="$(date +%s)"
	as_user "$dir" python3 - >"$logf" 2>&1 <<'PY'
import sys

import bb.tinfoil

# recipe -> PACKAGECONFIG options it must have, and the elements they give
NEEDED = {
    "gstreamer1.0-plugins-base": {"alsa": "alsasrc", "pango": "textoverlay"},
    "gstreamer1.0-plugins-good": {"v4l2": "v4l2src, v4l2h264enc"},
    "gstreamer1.0-plugins-ugly": {"x264": "x264enc"},
    "libcamera": {"gst": "libcamerasrc"},
}
problems = []
found = []
with bb.tinfoil.Tinfoil() as tinfoil:
    tinfoil.prepare(quiet=2)
    skipped = {info.pn: info for info in tinfoil.get_skipped_recipes().values()}
    for pn, options in NEEDED.items():
        if pn in skipped:
            problems.append(f"{pn} skipped: {skipped[pn].skipreason}")
            continue
        have = (tinfoil.parse_recipe(pn).getVar("PACKAGECONFIG") or "").split()
        for option, element in options.items():
            if option in have:
                found.append(f"{pn.replace('gstreamer1.0-', '')} {option}")
            else:
                problems.append(f"{pn} lacks PACKAGECONFIG {option} ({element})")
    if "bodycam" in skipped:
        problems.append(f"bodycam skipped: {skipped['bodycam'].skipreason}")
    else:
        d = tinfoil.parse_recipe("bodycam")
        if "bodycam" in d.getVar("OVERRIDES").split(":"):
            problems.append("bodycam (the recipe's PN) is in OVERRIDES")
        found.append(f"bodycam LICENSE_FLAGS {d.getVar('LICENSE_FLAGS')!r} accepted")
    g = tinfoil.config_data
    if "files/fs-perms-volatile-log.txt" in (g.getVar("FILESYSTEM_PERMS_TABLES") or "").split():
        found.append("/var/log volatile")
    else:
        problems.append("FILESYSTEM_PERMS_TABLES lacks files/fs-perms-volatile-log.txt: /var/log on the read-only rootfs")
    if (g.getVar("ENABLE_UART") or "") == "0" and (g.getVar("SERIAL_CONSOLES") or "").strip():
        problems.append(f"SERIAL_CONSOLES {g.getVar('SERIAL_CONSOLES')!r} with ENABLE_UART 0")
    else:
        found.append(f"ENABLE_UART {g.getVar('ENABLE_UART')!r}, SERIAL_CONSOLES {g.getVar('SERIAL_CONSOLES')!r}")
print("VERDICT", "; ".join(problems or found))
sys.exit(1 if problems else 0)
PY
	rc=$?
	out="$(sed -n 's/^VERDICT //p' "$logf")"
	if ((rc == 0)); then
		pass "$name: $out ($(elapsed "$start"))"
	else
		fail "$name: exit $rc; ${out:-see log}"
		excerpt "$logf"
		tail -5 "$logf" | sed 's/^/    /'
	fi
}

# yocto-check-layer on meta-bodycam with the default distro: the baseline holds oe-core and the
# layer's dependencies (from LAYERDEPENDS; every other kas layer is offered
# with --dependency), then the layer is added and must not change world's
# signatures. MACHINE is oe-core's default qemux86-64, not the kas machine:
# with raspberrypi4-64 the baseline world already fails in meta-raspberrypi
# (linux-firmware-rpidistro needs the synaptics-killswitch licence flag),
# before this layer is added. The Pi machines are covered by the parse steps.
readonly CHECK_LAYER_MACHINE=qemux86-64
check_layer_run() { # SLUG NAME DIR
	local logf="$build_root/logs/$1.log" name="$2" dir="$3" start rc layer
	local -a deps=()
	for layer in "${kas_layers[@]}"; do
		[[ "$layer" == "$LAYER" || "$layer" == "$oecore_dir/meta" ]] && continue
		deps+=("$layer")
	done
	start="$(date +%s)"
	as_user "$dir" yocto-check-layer "$LAYER" --no-auto --no-auto-dependency \
		--dependency "${deps[@]}" >"$logf" 2>&1
	rc=$?
	local ok skipped failed result
	ok="$(grep -cE ' \.\.\. ok$' "$logf")"
	skipped="$(grep -cE " \.\.\. skipped" "$logf")"
	failed="$(grep -cE ' \.\.\. (FAIL|ERROR)$' "$logf")"
	# "Summary of results:" then one "INFO: LAYER ... RESULT" line per layer.
	result="$(sed -n '/Summary of results:/,$ s/^INFO: [^ ]* \.\.\. \(.*\)$/\1/p' "$logf" | tail -1)"
	local what
	what="layer ${result:-no result}: $ok tests passed, $failed failed, $skipped skipped (default distro, MACHINE $CHECK_LAYER_MACHINE; offered dependencies ${deps[*]##*/}) ($(elapsed "$start"))"
	if ((rc == 0 && failed == 0)) && [[ "$result" == PASS ]]; then
		pass "$name: $what"
	else
		fail "$name: exit $rc, $what"
		# yocto-check-layer logs "INFO: test_x (...)" and then "INFO:  ... FAIL".
		grep -B1 -E ' \.\.\. (FAIL|ERROR)$' "$logf" | grep -v -- '^--$' | head -20 | sed 's/^/    /'
		grep -E '^(ERROR|AssertionError|RuntimeError|WARNING)' "$logf" | head -20 | sed 's/^/    /'
		printf '    (log: %s)\n' "$logf"
	fi
}

main() {
	parse_args "$@"
	local -a no_install=()
	((install)) || no_install=(--no-install)
	if ! bash "$ROOT/scripts/ci-platform-checks.sh" "${no_install[@]}" setup >/dev/null 2>&1; then
		log "kas venv $VENV missing (scripts/ci-platform-checks.sh setup installs it)"
		exit 1
	fi
	mkdir -p "$build_root/logs"
	if check_host && check_pins; then
		local file project
		for file in "${kas_files[@]}"; do
			project="$(basename "$file" .yml)"
			load_kas "$file" >"$build_root/logs/kas.log" 2>&1 || continue # check_pins loaded it
			write_build_dir "$build_root/$project" kas all
			check_parse "parse-$project" "parse $project (DISTRO $kas_distro, MACHINE $kas_machine)" "$build_root/$project"
			check_graph "graph-$project" "graph $project" "$build_root/$project" "$kas_target"
			check_config "config-$project" "config $project" "$build_root/$project"
		done
		# The default distro, with the first project's machine and layers.
		load_kas "${kas_files[0]}" >"$build_root/logs/kas.log" 2>&1
		write_build_dir "$build_root/default-distro" default all
		check_parse parse-default "parse-default (default distro, MACHINE $kas_machine)" "$build_root/default-distro"
		check_skipped skipped-default "skipped-default (default distro)" "$build_root/default-distro" bodycam
		if ((check_layer)); then
			write_build_dir "$build_root/check-layer" default core "$CHECK_LAYER_MACHINE"
			check_layer_run check-layer "check-layer" "$build_root/check-layer"
		fi
	fi
	printf 'yocto-check: %d passed, %d failed\n' "$passes" "$failures"
	((failures == 0))
}

main "$@"; exit

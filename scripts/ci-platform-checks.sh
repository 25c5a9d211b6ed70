#!/usr/bin/env bash
# Platform checks for the systemd units, the Yocto layer, the crate list,
# the kas projects and the shell scripts. Offline apart from the installs.
#
# Usage:
#   scripts/ci-platform-checks.sh [--no-install]          run every check on the real files
#   scripts/ci-platform-checks.sh [--no-install] CHECK [FILE...]
#                                                         run one check (on FILEs if given)
# Checks:
#   oelint      oelint-adv on every .bb/.bbappend/.inc of yocto-layer/
#   crates      yocto-layer/.../bodycam-crates.inc is what Cargo.lock gives
#               (FILES for tests: LOCK INC)
#   verify      systemd-analyze verify on systemd/*.service, and on each with
#               its drop-in templates systemd/UNIT.d/*.conf.in filled in with
#               sample values; any stderr fails
#   security    systemd-analyze security --offline=true --threshold=20
#               (exposure <= 2.0) on systemd/*.service
#   sysusers    sysusers.d + tmpfiles.d applied to a scratch root; the data
#               and keys dirs get the right owner and modes; the Yocto
#               recipe's useradd settings agree with sysusers.d
#               (FILES for tests: SYSUSERS TMPFILES [RECIPE])
#   lint-sh     ShellCheck on scripts/*.sh, systemd/*.sh and .ci/run
#   setup       only install the tools
#   kas         every kas project loads through kas's own config loader
#               (schema, includes; no clone) and pins each layer by a full,
#               non-zero commit
#
# Exit status: 0 if every check passed, 1 otherwise.
#
# The check_* functions take optional file arguments (scripts/test-platform-checks.sh
# passes broken fixtures) and are called without them for the real files.
# shellcheck disable=SC2119,SC2120
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly LAYER="$ROOT/yocto-layer"

# Pinned tool versions (PyPI). shellcheck comes from Debian 12 (0.9.0).
readonly OELINT_VERSION=9.11.2
readonly KAS_VERSION=5.5
readonly VENV="${BODYCAM_CI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/bodycam-platform-ci-venv}"

# oelint-adv findings accepted project-wide. Keep this list short and say why.
readonly OELINT_SUPPRESS=(
	# The generated crates .inc keeps the exact layout of oe-core's
	# cargo-update-recipe-crates output ('SRC_URI += " \' + one crate a line).
	oelint.vars.inconspaces
	# Fetches HOMEPAGE over the network: CI has no general network access and
	# the answer would depend on a remote server, not on the recipe.
	oelint.vars.homepageping
)
# A single finding is suppressed inline with '# nooelint: <rule>' next to the
# line and a comment saying why (see bodycam_0.1.0.bb).

# Maximum exposure score x 10 for `systemd-analyze security`.
readonly SECURITY_THRESHOLD=20

install=1
failures=0
passes=0

log() { printf '[platform-checks] %s\n' "$*" >&2; }
pass() { passes=$((passes + 1)); printf 'PASS %s\n' "$*"; }
fail() { failures=$((failures + 1)); printf 'FAIL %s\n' "$*"; }

setup_tools() {
	if ! command -v shellcheck >/dev/null; then
		((install)) || { log "shellcheck missing"; return 1; }
		log "installing shellcheck (apt)"
		apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends shellcheck >/dev/null ||
			{ apt-get update -qq && apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends shellcheck >/dev/null; }
	fi
	command -v systemd-analyze >/dev/null || { log "systemd-analyze missing (package systemd)"; return 1; }
	if [[ ! -x "$VENV/bin/oelint-adv" || ! -x "$VENV/bin/kas" ]] ||
		[[ "$("$VENV/bin/oelint-adv" --version 2>/dev/null)" != *"$OELINT_VERSION"* ]] ||
		[[ "$("$VENV/bin/kas" --version 2>/dev/null)" != *"kas $KAS_VERSION "* ]]; then
		((install)) || { log "tool venv $VENV missing or outdated"; return 1; }
		log "installing oelint-adv==$OELINT_VERSION kas==$KAS_VERSION into $VENV"
		python3 -m venv "$VENV"
		"$VENV/bin/pip" install -q --disable-pip-version-check \
			"oelint-adv==$OELINT_VERSION" "kas==$KAS_VERSION"
	fi
}

# --- oelint -----------------------------------------------------------------
check_oelint() {
	local -a files=("$@") args=()
	if ((${#files[@]} == 0)); then
		mapfile -t files < <(find "$LAYER" -type f \( -name '*.bb' -o -name '*.bbappend' -o -name '*.inc' \) | sort)
	fi
	local rule out
	for rule in "${OELINT_SUPPRESS[@]}"; do args+=(--suppress "$rule"); done
	if out="$("$VENV/bin/oelint-adv" --release wrynose --quiet --hide info --nobackup "${args[@]}" "${files[@]}" 2>&1)"; then
		pass "oelint (${#files[@]} files, ${#OELINT_SUPPRESS[@]} suppressed rules)"
	else
		fail "oelint:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

# --- crates -----------------------------------------------------------------
check_crates() {
	local lock="${1:-$ROOT/Cargo.lock}"
	local inc="${2:-$LAYER/recipes-bodycam/bodycam/bodycam-crates.inc}"
	local out
	if out="$(python3 "$ROOT/scripts/gen-crates-inc.py" --check --lock "$lock" --output "$inc" 2>&1)"; then
		pass "crates: $out"
	else
		fail "crates:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

# Copy units into a scratch dir with every Exec*= program replaced by
# /bin/true: the real programs (/usr/bin/bodycam, ...) exist only on the
# device, and verify fails on a missing one. Arguments are kept.
stage_units() {
	local dir="$1" unit
	shift
	for unit in "$@"; do
		sed -E 's#^(Exec[A-Za-z]*=[-@:+!|]*)/[^[:space:]]+#\1/bin/true#' "$unit" >"$dir/$(basename "$unit")"
	done
}

default_units() {
	find "$ROOT/systemd" -maxdepth 1 -name '*.service' | sort
}

# --- verify -----------------------------------------------------------------
check_verify() {
	local -a units=("$@")
	((${#units[@]})) || mapfile -t units < <(default_units)
	local dir unit err
	dir="$(mktemp -d)"
	stage_units "$dir" "${units[@]}"
	for unit in "${units[@]}"; do
		# verify exits 0 on unknown keys and bad values: any output on stderr
		# is a failure.
		err="$(cd "$dir" && systemd-analyze verify --man=no "$dir/$(basename "$unit")" 2>&1 >/dev/null)" || true
		if [[ -z "$err" ]]; then
			pass "verify $(basename "$unit")"
		else
			fail "verify $(basename "$unit"):"
			printf '%s\n' "$err" | sed 's/^/    /'
		fi
		verify_dropins "$dir" "$unit"
	done
	rm -rf "$dir"
}

# The drop-in templates of a unit (systemd/UNIT.d/*.conf.in, filled in by the
# Yocto recipe from layer variables), with sample values, loaded on top of the
# staged unit: systemd-analyze reads drop-ins only for a unit found by name
# on the unit path, not for one given as a file.
verify_dropins() {
	local dir="$1" unit="$2" name tmpl conf err
	name="$(basename "$unit")"
	for tmpl in "$(dirname "$unit")/$name.d"/*.conf.in; do
		[[ -e "$tmpl" ]] || continue
		mkdir -p "$dir/$name.d"
		conf="$dir/$name.d/$(basename "$tmpl" .in)"
		sed -e 's#@PEERS_SUBNET@#192.0.2.0/24#g' -e 's#@GNSS_DEVICE@#/dev/ttyAMA0#g' "$tmpl" >"$conf"
		if grep -q '@[A-Z_]*@' "$conf"; then
			fail "verify $name + $(basename "$tmpl"): placeholder without a sample value"
			continue
		fi
		err="$(cd "$dir" && SYSTEMD_UNIT_PATH="$dir:" systemd-analyze verify --man=no "$name" 2>&1 >/dev/null)" || true
		if [[ -z "$err" ]]; then
			pass "verify $name + $(basename "$tmpl")"
		else
			fail "verify $name + $(basename "$tmpl"):"
			printf '%s\n' "$err" | sed 's/^/    /'
		fi
		rm -f "$conf"
	done
}

# --- security ---------------------------------------------------------------
check_security() {
	local -a units=("$@")
	((${#units[@]})) || mapfile -t units < <(default_units)
	local dir unit out score
	dir="$(mktemp -d)"
	stage_units "$dir" "${units[@]}"
	for unit in "${units[@]}"; do
		local staged
		staged="$dir/$(basename "$unit")"
		if out="$(systemd-analyze security --offline=true --threshold="$SECURITY_THRESHOLD" --no-pager "$staged" 2>&1)"; then
			score="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
			pass "security $(basename "$unit"): exposure ${score:-?} (limit $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10)))"
		else
			score="$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
			fail "security $(basename "$unit"): exposure ${score:-?} above $((SECURITY_THRESHOLD / 10)).$((SECURITY_THRESHOLD % 10))"
			printf '%s\n' "$out" | grep '✗' | sed 's/^/    /' | head -20 || true
		fi
	done
	rm -rf "$dir"
}

# --- sysusers + tmpfiles ----------------------------------------------------
check_sysusers() {
	local sysusers tmpfiles recipe
	sysusers="$(realpath "${1:-$ROOT/systemd/sysusers.d/bodycam.conf}")"
	tmpfiles="$(realpath "${2:-$ROOT/systemd/tmpfiles.d/bodycam.conf}")"
	recipe="$(realpath "${3:-$LAYER/recipes-bodycam/bodycam/bodycam_0.1.0.bb}")"
	local root err uid gid problems=()
	root="$(mktemp -d)"
	mkdir -p "$root/etc"
	# sysusers reports what it creates on stderr; anything else there (a
	# malformed line is only warned about) is a failure.
	err="$(systemd-sysusers --root="$root" "$sysusers" 2>&1 >/dev/null)" || err="${err:-systemd-sysusers failed}"
	err="$(printf '%s\n' "$err" | grep -Ev "^Creating (group|user) '[^']+'" || true)"
	if [[ -z "$err" ]]; then
		err="$(systemd-tmpfiles --root="$root" --create "$tmpfiles" 2>&1 >/dev/null)" || err="${err:-systemd-tmpfiles failed}"
	fi
	if [[ -n "$err" ]]; then
		fail "sysusers/tmpfiles:"
		printf '%s\n' "$err" | sed 's/^/    /'
		rm -rf "$root"
		return
	fi
	uid="$(awk -F: '$1 == "bodycam" {print $3}' "$root/etc/passwd")"
	gid="$(awk -F: '$1 == "bodycam" {print $3}' "$root/etc/group")"
	[[ -n "$uid" ]] || problems+=("no user bodycam")
	local group
	for group in video gpio audio; do
		awk -F: -v g="$group" '$1 == g {print $4}' "$root/etc/group" | tr ',' '\n' | grep -qx bodycam ||
			problems+=("bodycam not in group $group")
	done
	local path want
	for want in "data/bodycam 750" "data/bodycam/keys 700"; do
		path="$root/${want% *}"
		if [[ ! -d "$path" ]]; then
			problems+=("/${want% *} not created")
		elif [[ "$(stat -c '%a %u %g' "$path")" != "${want#* } $uid $gid" ]]; then
			problems+=("/${want% *} is $(stat -c '%a %u:%g' "$path"), want ${want#* } bodycam:bodycam")
		fi
	done
	rm -rf "$root"
	local mismatch
	mismatch="$(recipe_vs_sysusers "$recipe" "$sysusers" 2>&1)" || problems+=("$mismatch")
	if ((${#problems[@]} == 0)); then
		pass "sysusers/tmpfiles: user bodycam (video gpio audio), /data/bodycam 0750, keys 0700; recipe useradd agrees"
	else
		fail "sysusers/tmpfiles: $(printf '%s; ' "${problems[@]}" | sed 's/; $//')"
	fi
}

# The recipe creates the users at build time (useradd class) and installs
# sysusers.d/bodycam.conf; oe-core's systemd_sysusers_check warns at do_rootfs
# when the two disagree on home or shell. Compare user, home, shell, groups.
# ${base_sbindir} is /usr/sbin: the recipe requires usrmerge.
recipe_vs_sysusers() { # RECIPE SYSUSERS
	python3 - "$1" "$2" <<'PY'
import re
import shlex
import sys

recipe_path, sysusers_path = sys.argv[1:]
text = open(recipe_path).read().replace("\\\n", " ")
dirs = {"base_sbindir": "/usr/sbin", "sbindir": "/usr/sbin", "base_bindir": "/usr/bin", "bindir": "/usr/bin"}


def value(var):
    m = re.search(r"^" + re.escape(var) + r'\s*=\s*"([^"]*)"', text, re.M)
    if not m:
        sys.exit(f"{recipe_path}: no {var}")
    expanded = re.sub(r"\$\{(\w+)\}", lambda v: dirs.get(v.group(1), v.group(0)), m.group(1))
    if "${" in expanded:
        sys.exit(f"{recipe_path}: cannot expand {var}: {expanded}")
    return shlex.split(expanded)


def opts(args):
    found, rest, i = {}, [], 0
    while i < len(args):
        if args[i] in ("--home-dir", "--shell", "--groups", "--uid", "--gid"):
            found[args[i]] = args[i + 1]
            i += 2
        else:
            if not args[i].startswith("-"):
                rest.append(args[i])
            i += 1
    return found, rest


useradd, users = opts(value("USERADD_PARAM:${PN}"))
_, groupadd = opts(value("GROUPADD_PARAM:${PN}"))
sys_users, sys_groups, sys_members = {}, set(), {}
for line in open(sysusers_path):
    fields = shlex.split(line, comments=True)
    if fields and fields[0] == "u":
        sys_users[fields[1]] = fields
    elif fields and fields[0] == "g":
        sys_groups.add(fields[1])
    elif fields and fields[0] == "m":
        sys_members.setdefault(fields[1], set()).add(fields[2])
problems = []
for user in users:
    u = sys_users.get(user)
    if not u:
        problems.append(f"user {user} of the recipe is not in sysusers.d")
        continue
    home = u[4] if len(u) > 4 else "-"
    shell = u[5] if len(u) > 5 else "-"
    if home != useradd.get("--home-dir", "-"):
        problems.append(f"{user}: home {home} in sysusers.d, {useradd.get('--home-dir')} in the recipe")
    if shell != useradd.get("--shell", "-"):
        problems.append(f"{user}: shell {shell} in sysusers.d, {useradd.get('--shell')} in the recipe")
    want = set(filter(None, useradd.get("--groups", "").split(",")))
    if sys_members.get(user, set()) != want:
        problems.append(f"{user}: groups {sorted(sys_members.get(user, set()))} in sysusers.d, {sorted(want)} in the recipe")
for user in set(sys_users) - set(users):
    problems.append(f"user {user} of sysusers.d is not created by the recipe")
if set(groupadd) != sys_groups:
    problems.append(f"groups {sorted(sys_groups)} in sysusers.d, {sorted(groupadd)} added by the recipe")
if problems:
    sys.exit("recipe vs sysusers.d: " + "; ".join(problems))
PY
}

# --- shellcheck -------------------------------------------------------------
check_shellcheck() {
	local -a files=("$@")
	if ((${#files[@]} == 0)); then
		mapfile -t files < <(find "$ROOT/scripts" "$ROOT/systemd" -maxdepth 1 -name '*.sh' | sort)
		[[ -f "$ROOT/.ci/run" ]] && files+=("$ROOT/.ci/run")
	fi
	local out
	if out="$(shellcheck --severity=style "${files[@]}" 2>&1)"; then
		pass "shellcheck (${#files[@]} files)"
	else
		fail "shellcheck:"
		printf '%s\n' "$out" | sed 's/^/    /'
	fi
}

# --- kas ----------------------------------------------------------------------
check_kas() {
	local -a files=("$@")
	if ((${#files[@]} == 0)); then
		# Projects only: bodycam-common.yml is an include without a machine.
		mapfile -t files < <(find "$LAYER/kas" -name 'bodycam-*.yml' ! -name '*-common.yml' | sort)
	fi
	local out
	if out="$(cd "$ROOT" && KAS_WORK_DIR="$(mktemp -d)" "$VENV/bin/python" - "${files[@]}" <<'PY' 2>&1
"""Load kas projects with kas's own loader: schema, header version, includes.
No repository is cloned. Also require machine/distro/target and, for every
remote layer, a commit pin of 40 hex digits that is not all zeros (kas would
refuse to check out a placeholder, so nothing could build)."""
import argparse
import re
import sys

from kas.context import create_global_context
from kas.includehandler import IncludeHandler
from kas.kasusererror import KasUserError

create_global_context(argparse.Namespace(no_color=True, update=False, force_checkout=False))
bad = False
for path in sys.argv[1:]:
    try:
        config, missing = IncludeHandler([path]).get_config()
    except (KasUserError, OSError) as e:
        print(f"{path}: {e}")
        bad = True
        continue
    problems = [f"unresolved include repos {missing}"] if missing else []
    problems += [f"no {key}" for key in ("machine", "distro", "target") if not config.get(key)]
    for name, repo in (config.get("repos") or {}).items():
        repo = repo or {}
        if "url" not in repo:
            continue  # this repository itself
        commit = str(repo.get("commit") or "")
        if not commit:
            problems.append(f"repo {name} is not pinned by commit")
        elif not re.fullmatch(r"[0-9a-f]{40}", commit):
            problems.append(f"repo {name}: commit {commit!r} is not 40 hex digits")
        elif set(commit) == {"0"}:
            problems.append(f"repo {name}: all-zero placeholder commit")
    if problems:
        print(f"{path}: {'; '.join(problems)}")
        bad = True
    else:
        print(f"{path}: machine {config['machine']}, {len(config.get('repos', {}))} repos pinned")
sys.exit(1 if bad else 0)
PY
	)"; then
		pass "kas:"
		printf '%s\n' "$out" | grep -v '^$' | sed "s|$ROOT/||; s/^/    /"
	else
		fail "kas:"
		printf '%s\n' "$out" | sed "s|$ROOT/||; s/^/    /"
	fi
}

main() {
	if [[ "${1:-}" == --no-install ]]; then
		install=0
		shift
	fi
	setup_tools
	local check="${1:-all}"
	(($#)) && shift
	case "$check" in
	all)
		check_oelint
		check_crates
		check_verify
		check_security
		check_sysusers
		check_shellcheck
		check_kas
		;;
	oelint | crates | verify | security | sysusers | shellcheck | kas) "check_$check" "$@" ;;
	setup) return 0 ;; # tools only
	*)
		log "unknown check: $check"
		exit 2
		;;
	esac
	printf 'platform checks: %d passed, %d failed\n' "$passes" "$failures"
	((failures == 0))
}

main "$@"

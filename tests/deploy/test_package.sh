#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Debian package (deploy/package): it builds from the tree; its control
# data names what hasvcd needs at run time; it holds every file an operator
# needs (programs, man pages, dashboard, unit, example config, alert rules,
# completion, docs) and those files are the ones it lists in md5sums;
# unpacked into a scratch root, the installed hasvcd and hasvc run; the unit
# passes `systemd-analyze verify` there (with the root's man pages); lintian
# finds no error or warning; the completion knows every command of
# `hasvc --help` and completes nouns, verbs, options, VMs and nodes. No root needed; nothing is installed on the machine.
set -euo pipefail

SRC=${HASVC_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${HASVC_BUILD_DIR:-$SRC/build}
out=$BUILD/package
note() { echo "[test_package] $*"; }
fail() {
	echo "[test_package] FAIL: $*" >&2
	exit 1
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

note "build the package"
deb=$("$SRC/deploy/package" --out "$out" --no-lintian 2>"$scratch/package.log") ||
	{ tail -30 "$scratch/package.log" >&2; fail "deploy/package failed"; }
[ -f "$deb" ] || fail "deploy/package printed '$deb', not a file"
note "built $deb"

note "control data"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = hasvc ] || fail "Package is '$(field Package)'"
version=$(sed -n 's/^project(hasvc VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
[[ $(field Version) == "$version"-* ]] || fail "Version '$(field Version)' is not $version-*"
depends=$(field Depends)
for dep in libc6 libcpg4 libvotequorum8 libqb100 libvirt0 libsqlite3-0 libmicrohttpd12 libjson-c5 \
	libcurl4 corosync libvirt-daemon-system libvirt-daemon-driver-qemu qemu-utils fence-agents; do
	grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
# (outputs read whole before grep -q: under pipefail an early grep would fail the writer)
info=$(dpkg-deb -I "$deb")
grep -q conffiles <<<"$info" || fail "no conffiles"
[ "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)" = /etc/hasvc/hasvc.conf.example ] ||
	fail "conffiles is not the example configuration alone"

note "contents"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)
for f in /usr/sbin/hasvcd /usr/bin/hasvc /usr/share/man/man8/hasvcd.8.gz /usr/share/man/man1/hasvc.1.gz \
	/usr/share/hasvc/web/index.html /usr/share/hasvc/web/app.js /usr/share/hasvc/web/style.css \
	"$unitdir/hasvcd.service" /etc/hasvc/hasvc.conf.example \
	/usr/share/hasvc/prometheus/hasvc-alerts.yml /usr/share/bash-completion/completions/hasvc \
	/usr/share/doc/hasvc/copyright /usr/share/doc/hasvc/changelog.Debian.gz \
	/usr/share/doc/hasvc/install.md /usr/share/doc/hasvc/README.md; do
	grep -qxF "$f" <<<"$contents" || fail "the package lacks $f"
done
! grep -q '^/usr/local' <<<"$contents" || fail "files under /usr/local: $(grep '^/usr/local' <<<"$contents")"
dpkg-deb -c "$deb" | awk '$2 != "root/root" {bad = 1; print} END {exit bad}' ||
	fail "files not owned by root"

note "unpack into a scratch root; the installed files are the packaged ones"
root=$scratch/root
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/DEBIAN"
(cd "$root" && md5sum --quiet -c "$scratch/DEBIAN/md5sums") || fail "md5sums do not match the files"
cmp -s "$root/etc/hasvc/hasvc.conf.example" "$SRC/deploy/hasvc.conf.example" ||
	fail "the example configuration is not deploy/hasvc.conf.example"
cmp -s "$root/usr/share/hasvc/prometheus/hasvc-alerts.yml" "$SRC/deploy/prometheus/hasvc-alerts.yml" ||
	fail "the alert rules are not deploy/prometheus/hasvc-alerts.yml"

note "the installed programs run"
[ "$("$root/usr/sbin/hasvcd" --version)" = "hasvcd $version" ] || fail "hasvcd --version: $("$root/usr/sbin/hasvcd" --version)"
help=$("$root/usr/sbin/hasvcd" --help)
grep -q -- '--config' <<<"$help" || fail "hasvcd --help does not list --config: $help"
[ "$("$root/usr/bin/hasvc" --version)" = "hasvc $version" ] || fail "hasvc --version"
# the unit's command line: with no configuration it stops with an error, not a crash
set +e
"$root/usr/sbin/hasvcd" -c "$scratch/absent.conf" >"$scratch/run.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "hasvcd with a missing config exited $rc, want 1: $(cat "$scratch/run.log")"
kind=$(file "$root/usr/sbin/hasvcd")
! grep -q 'not stripped' <<<"$kind" || fail "hasvcd is not stripped: $kind"

note "the completion knows every command of hasvc --help"
completion=$root/usr/share/bash-completion/completions/hasvc
# each command is "  NOUN [VERB]" in a 22-column field, then its help
"$root/usr/bin/hasvc" --help | awk '/^commands:/ {on = 1; next}
		on && /^  [a-z]/ {split(substr($0, 3, 22), w, " "); print w[1], w[2]}' |
	while read -r noun verb; do
		grep -q "nouns=\".*\\b$noun\\b" "$completion" || fail "completion lacks the noun '$noun'"
		case $verb in
		[a-z]*) grep -qE "words_now=\"[^\"]*\\b$verb\\b" "$completion" ||
			fail "completion lacks '$noun $verb'" ;;
		esac
	done
bash -n "$completion" || fail "completion is not valid bash"

note "the completion completes (bash-completion's helpers and the daemon's answers stubbed)"
bash -s "$completion" <<'COMPLETION' || fail "completion"
_init_completion() {
	words=("${COMP_WORDS[@]}")
	cword=$COMP_CWORD
	cur=${words[cword]}
	prev=${words[cword - 1]}
}
_filedir() { COMPREPLY=(FILES); }
# the daemon's answers, as `hasvc node list` and `hasvc pair list` print them
hasvc() {
	case "$1 $2" in
	"node list") printf 'NODE NODEID STATE SINCE\nhost1 1 online -\n  host1: a note\nhost2 2 online -\n' ;;
	"pair list") printf 'VM STATE PRIMARY BACKUP MODE\nvm1 in-sync host1 host2 sync\n' ;;
	esac
}
source "$1"
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMPREPLY=()
	_hasvc
	echo "${COMPREPLY[*]}"
}
expect() {
	local want=$1 got
	shift
	got=$(complete_words "$@")
	[ "$got" = "$want" ] || { echo "[test_package] FAIL: completing '$*': got '$got', want '$want'"; exit 1; }
}
expect "status node pair events fence switchover" hasvc ""
expect "pair" hasvc pa
expect "list show create set verify delete" hasvc pair ""
expect "list maintenance" hasvc node ""
expect "host1 host2" hasvc node maintenance ""
expect "on off" hasvc node maintenance host1 ""
expect "vm1" hasvc switchover ""
expect "vm1" hasvc pair show ""
expect "vm1" hasvc pair set ""
expect "--bandwidth" hasvc pair set vm1 --b
expect "vm1" hasvc pair verify ""
expect "--repair" hasvc pair verify vm1 --r
expect "check log host1 host2" hasvc fence ""
expect "host1 host2" hasvc pair create vm1 --backup ""
expect "sync async" hasvc pair create vm1 --backup host2 --mode ""
expect "--backup --bandwidth" hasvc pair create vm1 --b
expect "--since" hasvc events --si
expect "--json" hasvc --socket /x status --j
expect "FILES" hasvc --socket ""
COMPLETION

if command -v systemd-analyze >/dev/null; then
	note "systemd-analyze verify hasvcd.service in the scratch root"
	# the units it orders after (corosync, libvirtd, the targets) come from this machine
	cp -an "$unitdir/." "$root$unitdir/"
	MANPATH=$root/usr/share/man systemd-analyze --root="$root" verify hasvcd.service \
		>"$scratch/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$scratch/verify.log")"
	[ ! -s "$scratch/verify.log" ] || fail "systemd-analyze verify said: $(cat "$scratch/verify.log")"
else
	note "no systemd-analyze: unit not verified"
fi

if command -v lintian >/dev/null; then
	note "lintian"
	lintian --tag-display-limit 0 "$deb" >"$scratch/lintian.log" 2>&1 || true
	if grep -E '^[EW]: ' "$scratch/lintian.log"; then fail "lintian has errors or warnings"; fi
else
	note "no lintian: not checked (deploy/install-deps installs it)"
fi
note "PASS"

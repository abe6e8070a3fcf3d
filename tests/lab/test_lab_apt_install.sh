#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The package as an operator installs it (issue 18): deploy/package builds the
# .deb, `apt-get install ./hasvc_*.deb` installs it and its dependencies from
# the archive, its unit passes `systemd-analyze verify` where it was
# installed, and a lab runs every host's hasvcd from the installed
# /usr/sbin/hasvcd with the unit's command line (HASVC_LAB_ROOT=/). Then the
# package is purged again, so the machine is left as it was. A machine that
# has hasvc installed already is not touched: the test says so and passes.
source "$(dirname "$0")/lib.sh"

if dpkg-query -W -f='${Status}' hasvc 2>/dev/null | grep -q 'install ok installed'; then
	note "hasvc is installed on this machine already: not touching it"
	exit 0
fi
deb=$("$SRC/deploy/package" --out "$HASVC_BUILD_DIR/package-apt" --no-lintian 2>"$HASVC_BUILD_DIR/package-apt.log") ||
	{ tail -20 "$HASVC_BUILD_DIR/package-apt.log" >&2; fail "deploy/package failed"; }
# The purge must not remove /etc/hasvc: every lab's hosts bind-mount their own
# over it, and rmdir of a mount point detaches the mounts on it in every other
# mount namespace (Linux 3.18+): a lab running beside this test would lose its
# hosts' configuration. A file of ours keeps the directory through the purge.
purge() {
	local keep=/etc/hasvc/.kept-by-test_lab_apt_install
	touch "$keep"
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hasvc >/dev/null 2>&1 || true
	rm -f "$keep"
}
trap 'lab_teardown; purge' EXIT
note "apt-get install $(basename "$deb")"
(cd "$(dirname "$deb")" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "./$(basename "$deb")") \
	>"$HASVC_BUILD_DIR/apt-install.log" 2>&1 || { tail -20 "$HASVC_BUILD_DIR/apt-install.log" >&2; fail "apt-get install failed"; }
dpkg -L hasvc | grep -qx /usr/sbin/hasvcd || fail "the package installed no /usr/sbin/hasvcd"
/usr/sbin/hasvcd --version | contains hasvcd || fail "the installed hasvcd does not run"
unit=$(dpkg -L hasvc | grep '/hasvcd.service$')
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
	[ -z "$out" ] || fail "systemd-analyze verify $unit says: $out"
fi

export HASVC_LAB_ROOT=/
lab up --hosts 2
for n in node1 node2; do wait_for 30 "$n online" node_online node1 "$n"; done
for n in node1 node2; do
	pid=$(lab exec "$n" cat /run/hasvcd.lab.pid)
	exe=$(readlink "/proc/$pid/exe")
	[ "$exe" = /usr/sbin/hasvcd ] || fail "$n runs $exe, not the installed /usr/sbin/hasvcd"
done
note "both hosts run the installed hasvcd; PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The lab on the installed package: deploy/package builds the .deb, it is
# unpacked into a scratch root, and the lab runs every host's hasvcd from
# there with the command line of the packaged hasvcd.service (HASVC_LAB_ROOT;
# the lab adds only -f). The processes' executables, the CLI found on PATH
# and the dashboard served are the packaged files, and the cluster forms on
# them as on the build: quorate, every host online, one state digest.
source "$(dirname "$0")/lib.sh"

note "build the package and unpack it"
deb=$("$SRC/deploy/package" --out "$HASVC_BUILD_DIR/package" --no-lintian 2>"$HASVC_BUILD_DIR/package.log") ||
	{ tail -20 "$HASVC_BUILD_DIR/package.log" >&2; fail "deploy/package failed"; }
root=$(mktemp -d /var/tmp/hasvc-package-root.XXXXXX)
# the lab goes first (lab_teardown reads the exit status), then the tree
trap 'lab_teardown; rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
unit=$(find "$root" -name hasvcd.service)
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
note "unit: ExecStart=$exec_start"

export HASVC_LAB_ROOT=$root
lab up --hosts 3
for n in node1 node2 node3; do
	wait_for 30 "$n online" node_online node1 "$n"
done
wait_for 10 "quorum" quorate node1
wait_for 30 "equal state" digests_equal node1 node2 node3

note "every hasvcd is the packaged one, with the unit's command line"
for n in node1 node2 node3; do
	pid=$(lab exec "$n" cat /run/hasvcd.lab.pid)
	exe=$(readlink "/proc/$pid/exe")
	[ "$exe" = "$root/usr/sbin/hasvcd" ] || fail "$n runs $exe, not $root/usr/sbin/hasvcd"
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	[ "$cmdline" = "$root$exec_start -f " ] ||
		fail "$n's hasvcd runs as '$cmdline', want the unit's '$root$exec_start' and -f"
	cli=$(lab exec "$n" bash -c 'command -v hasvc')
	[ "$cli" = "$root/usr/bin/hasvc" ] || fail "$n's hasvc is $cli"
done
lab exec node2 hasvc status

note "the dashboard comes from the package"
page=$(lab exec node1 curl -sf --cacert "/var/lib/hasvc-lab/$HASVC_LAB/pki/ca-cert.pem" \
	https://10.77.0.11:7480/)
cmp -s <(printf '%s\n' "$page") "$root/usr/share/hasvc/web/index.html" ||
	fail "the dashboard page is not the packaged index.html"
note "PASS"

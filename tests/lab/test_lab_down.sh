#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `deploy/lab down` stops everything its lab started, even when the hosts'
# holder processes are gone (issue 16: a lab started under `timeout` lost its
# holders with the caller's process group, and `down` said "down" while the
# lab's QEMUs kept running in libvirt's session). Two ways in:
#   1. `timeout` kills the caller's process group while the lab runs a VM: the
#      holders, in sessions of their own, survive it;
#   2. the holders are killed outright: `down` still finds the hosts'
#      processes through the network and mount namespaces recorded at start.
# After each, no process of the lab is left and `down` exited 0.
source "$(dirname "$0")/lib.sh"

lab_processes() {
	# every process whose environment or arguments name this lab's directory,
	# or that lives in one of its network namespaces
	local ns p
	for ns in $(ip netns list | awk '{print $1}' | grep "^$HASVC_LAB-" || true); do
		ip netns pids "$ns"
	done
	for p in /proc/[0-9]*/cmdline; do
		{ tr "\0" " " <"$p"; } 2>/dev/null | grep -q "/var/lib/hasvc-lab/$HASVC_LAB/" && basename "$(dirname "$p")"
	done
	return 0
}

note "1: the caller's process group killed by timeout while a VM runs"
rc=0
timeout 40 bash -c "'$LAB_CMD' up --hosts 2 && '$LAB_CMD' vm-create node1 vm1 && sleep 120" || rc=$?
[ "$rc" = 124 ] || fail "the lab did not come up within 40 s (rc $rc)"
qemu=$(ip netns pids "$HASVC_LAB-node1" | xargs -r ps -o pid=,comm= -p | awk '/qemu/ {print $1}')
[ -n "$qemu" ] || fail "no QEMU runs on node1 after the timeout"
note "QEMU $qemu survived the timeout; down"
lab down || fail "down failed"
left=$(lab_processes)
[ -z "$left" ] || fail "processes left after down: $(ps -o pid,cmd -p "$(echo $left | tr ' ' ,)" 2>/dev/null)"

note "2: the holders killed, then down"
lab up --hosts 2
lab vm-create node1 vm1
for n in node1 node2; do
	kill -KILL "$(cat "/var/lib/hasvc-lab/$HASVC_LAB/$n/holder.pid")"
done
sleep 0.5
lab down || fail "down failed after the holders were killed"
left=$(lab_processes)
[ -z "$left" ] || fail "processes left after down without holders: $(ps -o pid,cmd -p "$(echo $left | tr ' ' ,)" 2>/dev/null)"
[ ! -d "/var/lib/hasvc-lab/$HASVC_LAB" ] || fail "the lab's directory is left"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: libvirtd restarts on the primary's host, then on the backup's, while
# the guest writes. QEMU keeps running through it (libvirtd reconnects).
# Expect: writes continue, nothing moves, the pair ends in sync (re-synced if
# the block job did not survive), every acknowledged block on both copies.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	for n in node1 node2; do
		note "restart libvirtd on $n"
		lab restart "$n" libvirtd
		wait_more_acked 3 60
	done
	after_reconnect
	[ "$(runner vm1)" = node1 ] || fail "vm1 moved to $(runner vm1)"
	[ "$(event_count node1 "in-sync -> degraded")" = 0 ] ||
		fail "a libvirtd restart dropped the protection: $(lab exec node1 hasvc events | grep -- "-> degraded")"
	lab exec node1 hasvc events | grep "vm1:" | tail -4
	faults_finish node1 vm1
}
rounds round

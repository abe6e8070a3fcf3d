#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: hasvcd is SIGKILLed and restarted on each role's host in turn: the
# primary's (node1, also the coordinator), the backup's (node2), the third.
# Expect: the guest never stops writing, the mirror lives on in QEMU, nothing
# moves, the pair stays (or comes back) in sync, every node agrees.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	for n in node1 node2 node3; do
		note "SIGKILL and restart hasvcd on $n"
		lab restart-daemon "$n"
		wait_more_acked 3 30
		wait_for 60 "$n's hasvcd back and synced" synced "$n"
	done
	after_reconnect
	wait_for 30 "equal state" digests_equal node1 node2 node3
	[ "$(runner vm1)" = node1 ] || fail "vm1 moved to $(runner vm1)"
	[ "$(event_count node1 "in-sync -> degraded")" = 0 ] ||
		fail "a hasvcd restart dropped the protection: $(lab exec node1 hasvc events | grep -- "-> degraded")"
	[ "$(event_count node1 "-> fencing")" = 0 ] || fail "a daemon restart caused a fence: $(lab exec node1 hasvc events | grep -- "-> fencing")"
	faults_finish node1 vm1
}
rounds round

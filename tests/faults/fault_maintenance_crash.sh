#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: a host in maintenance loses power. Two nodes: vm1 runs on node1 with
# its backup on node2; node2 is put in maintenance (it runs no primary, so
# nothing moves) and then crashes while the guest writes (sync mode).
# A two-node primary holds its writes until the lost backup host is fenced
# (the other half might be promoting it). Before the fix the maintenance mark
# kept node2 from being fenced, and vm1's writes hung for good.
# Expect: node2 fenced through its BMC, vm1 degraded on node1, writing again.
source "$(dirname "$0")/lib.sh"

HOSTS=2
round() {
	scenario_begin vm1 sync node1 node2
	lab exec node1 hasvc node maintenance node2 on --timeout 60 >/dev/null
	[ "$(node_state node1 node2)" = maintenance ] || fail "node2 is $(node_state node1 node2)"
	faults_start vm1
	note "crash node2 (backup, in maintenance) with writes in flight"
	lab crash node2
	wait_for 60 "node2 fenced" node_state_is node1 node2 fenced
	wait_more_acked 5 60
	[ "$(runner vm1)" = node1 ] || fail "vm1 left node1"
	wait_for 30 "vm1 degraded" pair_state_is node1 vm1 degraded
	event_count_above node1 "fence" 0 || fail "no fence event on node1"
	faults_stop node1 vm1
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: corosync restarts on the backup's host (node2) while the guest writes.
# For the cluster node2 leaves and returns; hasvcd there reconnects.
# Expect: the primary keeps writing, the pair degrades or stays in sync, and
# ends in sync; node2's hasvcd rejoins with the same state.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "restart corosync on node2 (backup)"
	lab restart node2 corosync
	wait_more_acked 5 30
	wait_for 60 "node2 back" node_online node1 node2
	wait_for 60 "equal state" digests_equal node1 node2 node3
	[ "$(runner vm1)" = node1 ] || fail "vm1 moved to $(runner vm1)"
	lab exec node1 hasvc events | grep "vm1:" | tail -4
	faults_finish node1 vm1
}
rounds round

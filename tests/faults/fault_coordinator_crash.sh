#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the coordinator's hasvcd dies in the middle of a failover.
# vm1 runs on node2 with its backup on node3; node2 crashes; while the
# failover is under way, node1's hasvcd (the coordinator) is SIGKILLed.
# Expect: the next coordinator finishes the failover from the replicated
# state: node2 fenced, vm1 promoted on node3 exactly once, every block kept.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync node2 node3
	faults_start vm1
	note "crash node2 (primary); kill the coordinator's hasvcd mid-failover"
	lab crash node2
	wait_for 30 "failover under way" bash -c "s=\$($LAB_CMD exec node3 hasvc pair show vm1 --json | jq -r .state); [ \$s = fencing ] || [ \$s = promoting ] || [ \$s = unprotected ]"
	note "vm1 is $(pair_field node3 vm1 state) when node1's hasvcd dies"
	lab restart-daemon node1
	wait_for 60 "vm1 running on node3" domstate_is node3 vm1 running
	wait_more_acked 3
	promoted=$(event_count node3 "promoting -> ")
	[ "$promoted" = 1 ] || fail "$promoted promotions, want exactly 1"
	faults_finish node3 vm1
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host crashes while its BMC is unreachable.
# Expect: the fence fails and is retried; NOTHING is promoted while the fence
# is unconfirmed (the host might still run); status and events say why; once
# the BMC answers, the fence succeeds and the backup runs with every block.
source "$(dirname "$0")/lib.sh"

fence_failed_once() {
	lab exec node2 hasvc fence log --json |
		jq -e '[.fence_log[] | select(.target == "node1" and .result == "failed")] | length > 0' >/dev/null
}

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "take node1's BMC away, then crash node1"
	lab bmc node1 stop
	lab crash node1
	wait_for 90 "a failed fence of node1" fence_failed_once
	note "fence log: $(lab exec node2 hasvc fence log --json | jq -c '[.fence_log[] | {target, result}][0:3]')"
	sleep 10
	domstate_is node2 vm1 paused || fail "vm1 on node2 is $(domstate node2 vm1) before node1's fence was confirmed"
	note "after 10 s without a fence: vm1 is $(pair_field node2 vm1 state): $(pair_field node2 vm1 reason)"
	pair_state_is node2 vm1 fencing || fail "vm1 is $(pair_field node2 vm1 state), want fencing"
	note "the BMC returns"
	lab bmc node1 start
	wait_for 90 "vm1 running on node2" domstate_is node2 vm1 running
	wait_more_acked 3
	faults_stop node2 vm1
}
rounds round

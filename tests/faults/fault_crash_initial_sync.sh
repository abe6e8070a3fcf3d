#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host crashes during the initial sync (throttled).
# Expect: no promotion (the backup is incomplete), the pair says so
# (lost-unsynced, with the reason); when node1 returns, vm1 runs there again
# with every acknowledged block, and the sync starts over.
source "$(dirname "$0")/lib.sh"

round() {
	lab up --hosts 3
	wait_for 30 "quorum" quorate node1
	lab vm-create node1 vm1 256M >/dev/null
	faults_start vm1
	lab exec node1 hasvc pair create vm1 --backup node2 --bandwidth 1 --no-wait >/dev/null
	wait_for 60 "initial sync under way" pair_state_is node1 vm1 initial-sync
	wait_more_acked 3
	note "crash node1 during the initial sync"
	lab crash node1
	wait_for 60 "lost-unsynced" pair_state_is node2 vm1 lost-unsynced
	note "reason: $(pair_field node2 vm1 reason)"
	sleep 3
	domstate_is node2 vm1 paused || fail "the unsynced backup is $(domstate node2 vm1)"
	note "node1 returns"
	lab boot node1
	wait_for 120 "vm1 running on node1 again" domstate_is node1 vm1 running
	wait_more_acked 3 60
	wait_for 60 "resyncing" bash -c "s=\$($LAB_CMD exec node2 hasvc pair show vm1 --json | jq -r .state); [ \$s = initial-sync ] || [ \$s = in-sync ] || [ \$s = creating ]"
	faults_stop node2 vm1
}
rounds round

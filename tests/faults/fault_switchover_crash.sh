#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: a host crashes in the middle of an admin switchover.
#   step "stopping", primary host crashes: it is fenced and the backup is
#     promoted as in any failover (sync mode: every acknowledged block).
#   step "stopping", backup host crashes: the switchover is rolled back, vm1
#     runs on node1 again and is re-protected elsewhere.
# Expect in both: one running copy at most, every acknowledged block kept.
# (A crash of the backup host in the short "promoting" step leaves the pair in
# `error` with the VM stopped: see docs/pairs.md, known limits.)
source "$(dirname "$0")/lib.sh"

switchover_started() { lab exec node1 hasvc switchover vm1 --no-wait >/dev/null; }

crash_primary_while_stopping() {
	scenario_begin vm1 sync
	faults_start vm1
	switchover_started
	wait_for 10 "switching-over" pair_state_is node2 vm1 switching-over
	note "switchover under way; crash node1 (primary)"
	lab crash node1
	wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
	wait_more_acked 3
	faults_finish node2 vm1
}

crash_backup_while_stopping() {
	scenario_begin vm1 sync
	faults_start vm1
	switchover_started
	wait_for 10 "switching-over" pair_state_is node1 vm1 switching-over
	note "switchover under way; crash node2 (backup)"
	lab crash node2
	wait_for 60 "vm1 running on node1 again" domstate_is node1 vm1 running
	lab exec node1 hasvc events | grep "vm1:" | tail -3
	wait_more_acked 3
	faults_finish node1 vm1
}

round() {
	crash_primary_while_stopping
	round_end
	crash_backup_while_stopping
}
rounds round

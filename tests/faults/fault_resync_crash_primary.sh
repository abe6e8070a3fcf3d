#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host crashes during an incremental resync (issue 13),
# writes in flight: node2's replication link is cut while the guest writes,
# ~12 MiB are written meanwhile, the link heals with node1's NBD traffic
# throttled to 4 mbit (so that the resync of what node2 lacks lasts tens of
# seconds), and node1 crashes once the pair is back in initial-sync, its
# resumed job copying.
# Expect: no promotion: the backup is behind (lost-unsynced, the reason
# says so) and stays paused; when node1 returns, vm1 runs there again with
# every acknowledged block (its own disk), and, its QEMU new, the copy to
# node2 is full and says why; in sync again with every block on node2.
source "$(dirname "$0")/lib.sh"
live_lab_env

round() {
	scenario_begin vm1 sync
	# a write a second: at the default pace the writer can use up its 180
	# blocks before the scenario's end (then "3 more" never come; seen in
	# 2 of 5 runs of fault_resync_crash_backup)
	faults_start vm1 1
	resync_slowed_under_way node3
	note "crash node1 during the incremental resync"
	lab crash node1
	wait_for 60 "lost-unsynced" pair_state_is node2 vm1 lost-unsynced
	reason=$(pair_field node2 vm1 reason)
	note "reason: $reason"
	[[ $reason == *"NOT promoted, it was resyncing after an outage"* ]] ||
		fail "the reason does not say why the backup is not promoted: $reason"
	sleep 3
	domstate_is node2 vm1 paused || fail "the unsynced backup is $(domstate node2 vm1)"
	[ "$(transition_count node2 vm1 '*' promoting)" -eq 0 ] || fail "a backup behind was promoted"
	note "node1 returns"
	lab boot node1
	# the host's network namespace outlived its processes, and the throttle
	# with it: gone before the full copy to node2 starts (seconds later)
	nbd_unthrottle node1
	wait_for 120 "vm1 running on node1 again" domstate_is node1 vm1 running
	faults_finish node2 vm1
	copy=$(pair_field node2 vm1 'copy | .kind + "/" + .reason')
	note "the copy after the return: $copy"
	[[ $copy == full/* ]] || fail "the copy after node1's QEMU restarted was $copy"
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup's host crashes during an incremental resync (issue 13),
# writes in flight: node2's replication link is cut while the guest writes,
# ~12 MiB are written meanwhile, the link heals with node1's NBD traffic
# throttled to 4 mbit (so that the resync lasts), and node2 crashes once the
# pair is back in initial-sync, its resumed job copying.
# Expect: the guest goes on on node1 (its writes held no longer than a cut),
# the pair degraded again, never a promotion; node2 boots, its disks are the
# ones it left (their identity checks out), so the resync is again a delta
# (the paused job kept what it owed: the first resync's rest and what was
# written since); in sync with every acknowledged block on both, the images
# identical. Two hosts: with a third, the pair would be re-protected onto it
# at once (reprotect = any), a new backup, copied in full.
source "$(dirname "$0")/lib.sh"
live_lab_env
HOSTS=2

round() {
	scenario_begin vm1 sync
	# a write a second: at the default pace the writer can use up its 180
	# blocks before the scenario's end (then "3 more" never come; seen in
	# 2 of 5 runs of fault_resync_crash_backup)
	faults_start vm1 1
	resync_slowed_under_way node1
	note "crash node2 during the incremental resync"
	lab crash node2
	wait_for 60 "vm1 degraded again" pair_state_is node1 vm1 degraded
	note "reason: $(pair_field node1 vm1 reason)"
	wait_more_acked 3 60
	nbd_unthrottle node1
	note "node2 returns"
	lab boot node2
	faults_finish node1 vm1
	copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
	note "the copy after node2's return: $copy"
	[ "$copy" = "delta/paused jobs resumed" ] || fail "after the backup host's crash mid-resync the copy was $copy"
	check_images_identical vm1
	[ "$(transition_count node1 vm1 '*' promoting)" -eq 0 ] || fail "a promotion happened"
}
rounds round

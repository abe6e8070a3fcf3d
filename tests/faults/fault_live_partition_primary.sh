#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the source host (node1) of a live switchover (issue 14) is cut off
# from the cluster (`lab partition`: its cluster link, which carries
# corosync, the mirror's NBD and the migration stream; its BMC stays
# reachable) and runs on, writes in flight:
#   1. as soon as migrating is seen (the pre-copy under way, or just done);
#   2. (fresh lab) once the guest has left node1 with the pair still
#      migrating (node1's hasvcd held by SIGSTOP from migrating on, as in
#      fault_live_crash_primary: the migration is libvirt's and goes on),
#      then node1 continued at once, cut off: its `migrated` reaches no one;
#   3. (fresh lab; HASVC_FAULTS_COUNT > 1 only) right after the hand-over:
#      the pair held in reversing (node2's hasvcd stopped from catching-up
#      or migrating on, as in fault_live_crash_reversing), node1 (the old
#      host, now the backup with only a stand-in) cut off, node2 continued.
# Expect (docs/pairs.md, "Live switchover", safety): 1 and 2: node1 is the
# primary, so the majority fences it through its BMC (powered off: it ran
# on) before node2's copy runs: the migrated guest resumed, or booted from
# the stand-in's images; a `migrated` that got through first makes node1 the
# lost backup instead (degraded, node2 goes on). 3: node1 is the backup:
# the pair is degraded, the guest resumes on node2 unprotected (after
# degraded is recorded), re-protected; node1 is fenced all the same (the op
# claimed: the cluster cannot tell a live migration's destination from its
# source's stand-in, hs_coord.c). Every case: one running copy at
# most, every acknowledged block on it and on its new backup, in sync; no
# stand-in and no other active copy left once node1 is healed (and booted,
# if its fence powered it off) and online again; the op over.
# Found by its first run: node1, fenced, powered on through its BMC, never
# booted (the lab took the sampler's `lab exec` visitors for a running host;
# fixed in deploy/lab).
source "$(dirname "$0")/lib.sh"
live_lab_env

partition_primary_once_left() {
	hold_until_left
	lab partition node1
	hasvcd_signal node1 CONT
	note "vm1 left node1 after $LEFT_MS ms in migrating; node1 cut off, its hasvcd continued"
}

# partition_primary_in_migrating HOW...: node1 cut off (by HOW) in migrating.
partition_primary_in_migrating() {
	live_begin vm1 migrating "$@"
	wait_for 90 "vm1 running on node2" domstate_is node2 vm1 running
	if [ "$(transition_count node3 vm1 migrating fencing)" -gt 0 ]; then
		# promoted: only once node1 was fenced, and it was the BMC's off
		# that stopped its copy (the guest ran on there, cut off)
		wait_for 60 "node1 fenced" node_state_is node3 node1 fenced
		note "node1 fenced; promoted: $(promoted_how node3 vm1)"
	else
		[ "$(transition_count node3 vm1 migrating reversing)" -gt 0 ] &&
			[ "$(transition_count node3 vm1 '*' degraded)" -gt 0 ] ||
			fail "vm1 runs on node2 neither promoted nor migrated with node1 then lost as the backup: $(live_road node3 vm1 "$LIVE_T0" | tail -4)"
		note "migrated got through before the cut: node1 lost as the backup"
	fi
	live_partition_end node1 node2
}

partition_old_host_in_reversing() {
	live_begin vm1 'catching-up|migrating' hasvcd_signal node2 STOP
	read -r st ms < <(catch_state node3 vm1 reversing 60)
	note "$st held ($ms ms later): vm1 is $(domstate node2 vm1) on node2; node1 (now the backup) cut off"
	lab partition node1
	wait_for 30 "node1 out of the ring" out_of_ring node1
	hasvcd_signal node2 CONT
	wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
	[ "$(transition_count node3 vm1 reversing degraded)" -gt 0 ] ||
		fail "vm1 runs on node2 without reversing -> degraded: $(live_road node3 vm1 "$LIVE_T0" | tail -3)"
	live_partition_end node1 node2
}

round() {
	partition_primary_in_migrating lab partition node1
	round_end
	partition_primary_in_migrating partition_primary_once_left
	[ "$(transition_count node3 vm1 migrating fencing)" -gt 0 ] ||
		fail "node1 cut off with its hasvcd held, yet no migrating -> fencing"
	[[ $(promoted_how node3 vm1) == *"migrated domain resumed"* ]] ||
		fail "the guest had migrated, yet: $(promoted_how node3 vm1)"
	if [ "$FAULTS_COUNT" -gt 1 ]; then
		round_end
		partition_old_host_in_reversing
	fi
}
rounds round

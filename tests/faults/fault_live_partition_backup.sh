#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the destination host (node2) of a live switchover (issue 14) is cut
# off from the cluster (`lab partition`: corosync, the mirror's NBD to its
# stand-in and the migration stream all go over that link; its BMC stays
# reachable) and runs on, writes in flight:
#   1. as soon as migrating is seen (the pre-copy under way, or just done);
#   2. (fresh lab) once the guest has left node1 with the pair still
#      migrating (node1's hasvcd held by SIGSTOP from migrating on, as in
#      fault_live_crash_backup), node1 continued at once;
#   3. (fresh lab; HASVC_FAULTS_COUNT > 1 only) right after the hand-over:
#      the pair held in reversing (node2's hasvcd stopped from catching-up
#      or migrating on), node2, the new primary with the guest paused,
#      cut off and continued at once.
# Expect (docs/pairs.md, "Live switchover", safety): node2 is the backup
# host until `migrated` is applied, the primary once it is. As the backup
# (degraded): the mirror is cut, the migration fails (a cut link: libvirt's
# keepalive or hasvc's bound ends it, and node1 cancels it) and the guest goes
# on on node1, or, if it had left, node1 starts it from its own disk; node2
# is fenced all the same (it may hold the migrated guest, paused: found by
# this scenario, below). As the primary (reversing): the majority
# fences node2, then promotes node1, which boots from its stand-in's
# images. Every case: the guest ends on node1, one running copy at most,
# never on node1 while node2 is the primary unfenced; every acknowledged
# block; after the heal (and boot, if fenced) no stand-in and no active
# copy left on a host that is neither primary nor backup; in sync; the op over.
#
# Found by this scenario (2026-12-01), fixed: (case 1) the migration's
# connect to node2 waited on the cut link while the pair went degraded;
# node1's continue said "runs already" and ended the op; the heal let the
# migration go on, and vm1 ended paused on node2, running nowhere, the pair
# saying node1 ran it (mirror_continue now cancels a migration under way and
# waits for its end: mirror_inflight.c); (case 2) node2, not fenced, kept the
# migrated guest paused while node1 booted it from its own disk (the
# destination of a live migration is now fenced: hs_coord.c).
source "$(dirname "$0")/lib.sh"
live_lab_env

partition_backup_once_left() {
	hold_until_left
	lab partition node2
	hasvcd_signal node1 CONT
	note "vm1 $(domstate node2 vm1) on node2 after $LEFT_MS ms in migrating; node2 cut off, node1 continued"
}

partition_new_primary_in_reversing() {
	hasvcd_signal node2 STOP
	read -r LIVE_STATE LIVE_MS < <(catch_state node3 vm1 reversing 60)
	lab partition node2
	hasvcd_signal node2 CONT
	note "reversing held: vm1 $(domstate node2 vm1) on node2; node2 (the new primary) cut off, continued"
}

# off_live_road: the pair is past the live switchover's states.
off_live_road() { [[ ! $(pair_field node3 vm1 state) =~ ^(handing-over|catching-up|migrating|reversing)$ ]]; }

# partition_backup_at LIVE_REGEX HOW...: node2 cut off (by HOW) once the
# pair is seen in LIVE_REGEX.
partition_backup_at() {
	local re=$1 st primary
	shift
	live_begin vm1 "$re" "$@"
	wait_for 90 "vm1 off the live road" off_live_road
	wait_for 120 "vm1 running on node1" domstate_is node1 vm1 running
	# never on node1 while node2 is the primary and unfenced
	read -r st primary < <(pair_json node3 vm1 | jq -r '.state + " " + .primary')
	note "vm1 runs on node1; the pair is $st, primary $primary"
	[ "$primary" = node1 ] ||
		fail "vm1 runs on node1 while the pair is $st with $primary its primary: $(live_road node3 vm1 "$LIVE_T0" | tail -3)"
	if [ "$(transition_count node3 vm1 reversing fencing)" -gt 0 ]; then
		wait_for 60 "node2 fenced" node_state_is node3 node2 fenced
		note "node2 was the primary: fenced; promoted: $(promoted_how node3 vm1)"
	else
		[ "$(transition_count node3 vm1 '*' degraded)" -gt 0 ] ||
			fail "vm1 runs on node1, not degraded nor promoted: $(live_road node3 vm1 "$LIVE_T0" | tail -4)"
		note "node2 lost as the backup: $(domstate node2 vm1) there, cut off"
	fi
	live_partition_end node2 node1
}

round() {
	partition_backup_at migrating lab partition node2
	round_end
	partition_backup_at migrating partition_backup_once_left
	if [ "$FAULTS_COUNT" -gt 1 ]; then
		round_end
		partition_backup_at 'catching-up|migrating' partition_new_primary_in_reversing
		[ "$(transition_count node3 vm1 reversing fencing)" -gt 0 ] ||
			fail "node2 cut off as the primary in reversing, yet no reversing -> fencing"
	fi
}
rounds round

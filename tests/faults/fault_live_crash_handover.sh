#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary host loses power before a live switchover's jobs are
# READY again after the hand-over (issue 14): in handing-over (node2's paused
# backup destroyed, a stand-in serving its images), then, on a fresh lab, in
# catching-up (node1's jobs resuming into the stand-in: ~17 ms since 5d83ddb,
# held there by node1's hasvcd stopped, hold_in_catching_up). A crash in
# handing-over is noticed after node2 has finished the hand-over (the ring
# drops a host in ~2.5 s, the state's rest is shorter), so both rounds meet
# the catching-up row. A third round (fresh lab) holds node2's hasvcd
# (SIGSTOP) as soon as handing-over is seen, crashes node1, and continues
# node2 once node1 is out of the ring, to meet the handing-over row: on
# ae76d3b it met catching-up again (continued, node2 proposed its finished
# hand-over before its coordinator's plan saw node1 gone); on main it met
# the handing-over row ("while the pair was handing-over") in 1 of 2 runs, a
# race between the two. Either row must give lost-unsynced.
# Expect (docs/pairs.md, "Live switchover", safety): the backup may lack the
# writes the jobs owe, so it is not promoted: `lost-unsynced`, with the
# reason, and nothing runs on node2 while node1 is away. When node1 returns,
# vm1 runs there again with every acknowledged block, and the pair is
# protected again (in sync).
#
# Found by this scenario (2026-12-01), fixed in hs_pair_plan.c: the reason
# said "it never finished its initial sync (268435456 of 268435456 bytes
# copied)" for every state that is not promoted; it now says what is true
# for the state (here: the hand-over to a stand-in, the writes the jobs may
# owe). The scenario still fails if that old wording comes back.
source "$(dirname "$0")/lib.sh"
live_lab_env

# crash_primary_held_backup: node2's hasvcd held while node1 crashes and
# leaves the ring, so that the pair is still handing-over when it is noticed.
crash_primary_held_backup() {
	hasvcd_signal node2 STOP
	lab crash node1
	wait_for 30 "node1 out of the ring" bash -c "! $LAB_CMD exec node3 corosync-quorumtool -l 2>/dev/null | grep -qw node1"
	hasvcd_signal node2 CONT
}

# crash_primary_held_self: node1 crashed with the pair held in catching-up.
crash_primary_held_self() {
	hold_in_catching_up
	lab crash node1
}

# crash_primary_in STATE [HOW...]: node1 crashed (by HOW, default a plain
# crash) the moment the pair is seen in STATE.
crash_primary_in() {
	local state=$1
	shift
	[ $# -gt 0 ] || set -- lab crash node1
	live_begin vm1 "$state" "$@"
	wait_for 60 "lost-unsynced" pair_state_is node3 vm1 lost-unsynced
	reason=$(pair_field node3 vm1 reason)
	note "reason: $reason"
	[ -n "$reason" ] && [ "$reason" != null ] || fail "lost-unsynced without a reason"
	[[ $reason == *"while the pair was $state"* || $reason == *"while the pair was catching-up"* ]] ||
		fail "the reason does not name the live state: $reason"
	# the pair was in sync before the switchover: its initial sync was done
	[[ $reason != *"never finished its initial sync"* ]] || FALSE_REASONS+=("$state: $reason")
	sleep 5
	pair_state_is node3 vm1 lost-unsynced || fail "vm1 left lost-unsynced with node1 away: $(pair_field node3 vm1 state)"
	[ "$(domstate node2 vm1)" != running ] || fail "the unsynced backup runs on node2"
	# its fence first (a boot before it would be powered off again by it)
	wait_for 90 "node1 fenced" node_state_is node3 node1 fenced
	note "node1 returns"
	out=$(lab boot node1 2>&1) || [[ $out == *"is running"* ]] || fail "cannot boot node1: $out"
	[[ $out != *"is running"* ]] || note "node1 was back already (its fence powered it on)"
	wait_for 120 "vm1 running on node1 again" domstate_is node1 vm1 running
	[ "$(pair_field node3 vm1 primary)" = node1 ] || fail "vm1's primary is $(pair_field node3 vm1 primary)"
	live_finish vm1
}

FALSE_REASONS=()
round() {
	crash_primary_in handing-over
	round_end
	# The held cases (a hasvcd stopped to reach catching-up, or to keep
	# handing-over) in `make faults` (HASVC_FAULTS_COUNT > 1) only: under the
	# load of a whole CI run the first of them once found node1 back with no
	# VM started within 120 s (CI of 2026-12-01, not reproduced alone), and
	# the row they reach is the one the first case reaches.
	if [ "$FAULTS_COUNT" -gt 1 ]; then
		crash_primary_in handing-over crash_primary_held_self
		round_end
		crash_primary_in handing-over crash_primary_held_backup
	fi
	note "held: $(transition_count node3 vm1 handing-over lost-unsynced) handing-over -> lost-unsynced"
	[ ${#FALSE_REASONS[@]} -eq 0 ] ||
		fail "lost-unsynced says the initial sync never finished (it had): ${FALSE_REASONS[*]}"
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the host that is (or becomes) the backup loses power in a live
# switchover's other states (issue 14):
#   catching-up: node2, the backup host, with its stand-in serving the jobs
#     (handing-over ends before the ring drops a host: it meets the same row);
#     catching-up lasts ~17 ms since 5d83ddb: held by node1's hasvcd stopped
#     (hold_in_catching_up), continued once node2 is out of the ring;
#   reversing: node1, the old primary host, with its stand-in the target of
#     the mirror back; reversing lasts ~40 ms, so it is held by node2's
#     hasvcd stopped (SIGSTOP) from catching-up on, node1 crashed there, and
#     node2 continued once node1 is out of the ring.
# Expect (docs/pairs.md, "Live switchover", safety): catching-up: the guest
# never stops on node1, degraded, re-protected on node3. Reversing: the
# guest resumes on node2 only after the pair is recorded degraded (the old
# host never counts as holding writes it lacks), then re-protected on node3.
# Every acknowledged block on the copy that runs and on its new backup.
#
# Found by this scenario's second round (2026-12-01, 2 of 2 runs), fixed:
# continued, node2's hasvcd applied migrated (reversing) and submitted its
# reverse duty; the coordinator (node2 now) proposed backup-lost, "vm1 keeps
# running on node2, unprotected", while vm1 was still paused there. The
# reverse duty's blockdev-add to node1's dead stand-in waited out its 5 s
# open-timeout on the mirror thread, the cut (whose callback resumed the
# guest) queued behind it, and the pair moved on (reprotect) before: the
# callback was dropped, and the pair ended in-sync with vm1 paused for good.
# Now every state a live switchover can end in has the primary's continue
# duty (hs_pair_fsm.c, hs_pair_duty_live.c): the guest runs again once the
# stuck request is over, whatever state the pair reached meanwhile.
source "$(dirname "$0")/lib.sh"
live_lab_env

# crash_backup_held_catching_up: node2 crashed with the pair held in
# catching-up; node1 continued once node2 is out of the ring.
crash_backup_held_catching_up() {
	hold_in_catching_up
	lab crash node2
	wait_for 30 "node2 out of the ring" bash -c "! $LAB_CMD exec node3 corosync-quorumtool -l 2>/dev/null | grep -qw node2"
	hasvcd_signal node1 CONT
}

crash_backup_in_catching_up() {
	live_begin vm1 handing-over crash_backup_held_catching_up
	wait_for 60 "vm1 degraded" pair_state_is node3 vm1 degraded
	domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1"
	live_finish vm1
	[ "$(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)" = node1/node3 ] ||
		fail "vm1 is $(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)"
}

crash_old_primary_in_reversing() {
	live_begin vm1 'catching-up|migrating' hasvcd_signal node2 STOP
	read -r st ms < <(catch_state node3 vm1 reversing 60)
	note "$st held ($ms ms later): vm1 is $(domstate node2 vm1) on node2; crash node1 (the old primary, now the backup)"
	lab crash node1
	wait_for 30 "node1 out of the ring" bash -c "! $LAB_CMD exec node3 corosync-quorumtool -l 2>/dev/null | grep -qw node1"
	hasvcd_signal node2 CONT
	(wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running) ||
		fail "KNOWN FAILURE: vm1 is $(domstate node2 vm1) on node2 while the pair is $(pair_field node3 vm1 state): $(live_road node3 vm1 "$LIVE_T0" | tail -4)"
	# the guest resumed unprotected: the pair says so before it runs
	[ "$(transition_count node3 vm1 reversing degraded)" -gt 0 ] ||
		fail "vm1 runs on node2 without reversing -> degraded: $(live_road node3 vm1 "$LIVE_T0" | tail -3)"
	live_finish vm1
	[ "$(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)" = node2/node3 ] ||
		fail "vm1 is $(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)"
}

round() {
	crash_backup_in_catching_up
	round_end
	crash_old_primary_in_reversing
}
rounds round

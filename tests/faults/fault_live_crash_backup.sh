#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup host loses power while a live switchover (issue 14) is
# migrating the guest to it, writes in flight: first as soon as migrating is
# seen (the migration under way), then, on a fresh lab, once the guest has
# left node1 (the migration done, node1 setting up its stand-in).
# Expect (docs/pairs.md, "Live switchover", safety): the migration fails and
# the guest goes on on node1, or, if it had already left, node1 starts it
# from its own disk, which has every write; never running on both; the pair
# degraded, then re-protected on node3 and in sync, every acknowledged block
# on vm1 and on its new backup.
source "$(dirname "$0")/lib.sh"
live_lab_env

# crash_backup_once_left: polls (fast) until vm1 no longer runs on node1 while the pair
# still migrates; then crashes node2.
crash_backup_once_left() {
	local t0
	t0=$(now_ms)
	while domstate_is node1 vm1 running; do
		[ $(($(now_ms) - t0)) -lt 30000 ] || fail "vm1 never left node1"
		sleep 0.02
	done
	pair_state_is node3 vm1 migrating || fail "vm1 left node1 but the pair is $(pair_field node3 vm1 state)"
	lab crash node2
	note "vm1 $(domstate node1 vm1) on node1 after $(($(now_ms) - t0)) ms in migrating; node2 crashed"
}

crash_backup_in_migrating() {
	live_begin vm1 migrating "$@"
	wait_for 90 "vm1 out of migrating" pair_state_not node3 vm1 migrating
	wait_for 90 "vm1 running on node1" domstate_is node1 vm1 running
	[ "$(pair_field node3 vm1 primary)" = node1 ] || fail "vm1's primary is $(pair_field node3 vm1 primary)"
	live_finish vm1
	[ "$(pair_field node3 vm1 backup)" = node3 ] || fail "vm1's backup is $(pair_field node3 vm1 backup)"
}

round() {
	crash_backup_in_migrating lab crash node2
	round_end
	crash_backup_in_migrating crash_backup_once_left
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary host loses power while a live switchover (issue 14) is
# migrating the guest to its backup host, writes in flight: first as soon as
# migrating is seen (the migration under way or just done), then, on a fresh
# lab, node1's hasvcd held (SIGSTOP) as soon as migrating is seen so that it
# cannot propose `migrated` (the migration, libvirt's, goes on), crashed once
# the guest has left node1: the guest is then paused on node2 with
# the pair still migrating, node1's stand-in not up.
# Expect (docs/pairs.md, "Live switchover", safety): from migrating on both
# disks hold every acknowledged write, so node1 is fenced and node2's copy
# promoted: the migrated guest resumed (the second round must take this
# way), or booted from the stand-in's images if the migration had not
# finished (the event says which); every acknowledged block on it; one
# running copy at most; re-protected (in sync on node3) afterwards.
source "$(dirname "$0")/lib.sh"
live_lab_env

crash_primary_once_left() {
	hold_until_left
	lab crash node1
	note "vm1 left node1 after $LEFT_MS ms in migrating; node1's hasvcd held, node1 crashed"
}

crash_primary_in_migrating() {
	live_begin vm1 migrating "$@"
	wait_for 90 "vm1 running on node2" domstate_is node2 vm1 running
	[ "$(transition_count node3 vm1 migrating fencing)" -gt 0 ] || fail "no migrating -> fencing"
	note "promoted: $(promoted_how node3 vm1)"
	live_finish vm1
}

round() {
	crash_primary_in_migrating lab crash node1
	round_end
	crash_primary_in_migrating crash_primary_once_left
	[[ $(promoted_how node3 vm1) == *"migrated domain resumed"* ]] ||
		fail "the guest had migrated, yet: $(promoted_how node3 vm1)"
}
rounds round

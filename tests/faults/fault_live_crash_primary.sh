#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary host loses power while a live switchover (issue 14) is
# migrating the guest to its backup host, writes in flight.
# Expect (docs/pairs.md, "Live switchover", safety): from migrating on both
# disks hold every acknowledged write, so node1 is fenced and node2's copy
# promoted: the migrated guest resumed, or booted from the stand-in's images
# if the migration had not finished (the event says which); every
# acknowledged block on it; one running copy at most; re-protected (in sync
# on node3) afterwards.
source "$(dirname "$0")/lib.sh"
live_lab_env

round() {
	live_begin vm1 migrating lab crash node1
	wait_for 90 "vm1 running on node2" domstate_is node2 vm1 running
	[ "$(transition_count node3 vm1 migrating fencing)" -gt 0 ] || fail "no migrating -> fencing"
	live_finish vm1
}
rounds round

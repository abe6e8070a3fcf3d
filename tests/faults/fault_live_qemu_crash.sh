#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the guest's QEMU on the primary dies while a live switchover
# migrates it (issue 14). Found 2026-12-02 by test_switchover_live: a test
# write landing after the disks' hand-over failed QEMU's INACTIVE assertion
# and killed the source; the migration failed, hasvcd said "vm1 keeps
# running on node1" though it ran nowhere, prepared the backup again, and the
# primary's mirror then failed on the dead domain every 0.6 s for good: the
# guest stayed down.
# Here node1's QEMU is killed (SIGKILL, by its pid) once the migration's job
# runs there. Expect (docs/pairs.md, "Live switchover"): the migration's
# failure with the guest gone is "not here" (-ESRCH), so the roles swap and
# node2 boots vm1 from its disk, which the write-blocking mirror kept in step
# through the stand-in: every acknowledged block there, never two copies,
# the pair protected again (in sync, node1 its backup).
source "$(dirname "$0")/lib.sh"
live_lab_env

# kill_source_qemu: node1's QEMU of vm1 killed once its migration job runs.
kill_source_qemu() {
	local pid
	wait_for 30 "the migration job on node1" migrating_out node1 vm1
	pid=$(lab exec node1 cat /run/libvirt/qemu/vm1.pid)
	[ -n "$pid" ] || fail "no pid file of vm1's QEMU on node1"
	lab exec node1 kill -KILL "$pid"
}

round() {
	live_begin vm1 migrating kill_source_qemu
	wait_for 120 "vm1 running on node2" domstate_is node2 vm1 running
	note "$(lab exec node3 hasvc events | grep -E 'migration|booted|not here' | tail -3)"
	[ "$(pair_field node3 vm1 primary)" = node2 ] || fail "vm1's primary is $(pair_field node3 vm1 primary), not node2"
	! event_count_above node3 "keeps running on node1" 0 ||
		fail "an event says vm1 keeps running on node1, where its QEMU was killed"
	live_finish vm1
	[ "$(pair_field node3 vm1 backup)" = node1 ] || fail "vm1's backup is $(pair_field node3 vm1 backup), not node1"
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: only the replication link of the backup host is cut (no reset, its
# corosync link stays up, so the membership does not change) while the guest
# writes (sync mode). Found by the chaos campaign (seed 1, step 3): the
# guest's writes waited ~15 minutes for the kernel to give up on the NBD
# connection. Expect: the writes go on within seconds (the connection fails
# after mirror_copy.c's LINK_TIMEOUT_MS unanswered), the pair leaves in-sync,
# and after the heal it is in sync again with every acknowledged block.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "cut only node2's replication link"
	t0=$(now_ms)
	lab repl node2 cut
	wait_more_acked 3 20
	note "the guest's writes went on $(( $(now_ms) - t0 )) ms after the cut"
	wait_for 20 "vm1 out of in-sync" pair_state_not node1 vm1 in-sync
	note "vm1 is $(pair_field node1 vm1 state): $(pair_field node1 vm1 reason)"
	lab repl node2 heal
	faults_finish node1 vm1
}
rounds round

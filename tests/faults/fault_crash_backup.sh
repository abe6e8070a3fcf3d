#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup's host loses power while the guest writes (sync mode).
# Expect: the primary keeps writing, the pair degrades and is re-protected.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "crash node2 (backup) with writes in flight"
	lab crash node2
	wait_more_acked 5 30
	[ "$(runner vm1)" = node1 ] || fail "vm1 left node1"
	wait_for 30 "vm1 degraded" event_count_above node1 "in-sync -> degraded" 0
	faults_finish node1 vm1
}
rounds round

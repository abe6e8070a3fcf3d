#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host loses power while the guest writes (sync mode).
# Expect: fenced, backup promoted with every acknowledged block, re-protected.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "crash node1 (primary) with writes in flight"
	lab crash node1
	wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
	wait_more_acked 5
	faults_finish node2 vm1
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup's host is cut off (silent: no TCP reset) in sync mode.
# Expect: the guest's writes resume once the cluster has noticed (the mirror
# is cut), the pair degrades, and is in sync again after the heal.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "partition node2 (backup)"
	lab partition node2
	wait_more_acked 5 30
	[ "$(runner vm1)" = node1 ] || fail "vm1 left node1"
	wait_for 30 "degraded" event_count_above node1 "in-sync -> degraded" 0
	note "heal node2"
	lab heal node2
	faults_finish node1 vm1
}
rounds round

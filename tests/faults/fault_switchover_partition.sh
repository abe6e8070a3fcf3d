#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup host is cut off (silent, no TCP reset) just after an admin
# switchover started, with a write in flight to it.
# Expect: the primary closes its connections to that backup, the stop gives
# up, the guest runs on on node1 within seconds (not after the 120 s drain
# limit), the switchover rolls back; after the heal the pair is in sync.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1 0
	lab exec node1 hasvc switchover vm1 --no-wait >/dev/null
	lab partition node2
	t0=$(now_ms)
	note "switchover under way; node2 (backup) cut off"
	wait_more_acked 3 30
	note "vm1 writes again $(($(now_ms) - t0)) ms after the cut"
	[ "$(runner vm1)" = node1 ] || fail "vm1 left node1: $(runner vm1)"
	lab exec node1 hasvc events | grep "vm1:" | tail -3
	lab heal node2
	lab power node2 on >/dev/null 2>&1 || true
	faults_finish node1 vm1
}
rounds round

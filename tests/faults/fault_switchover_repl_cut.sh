#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: an admin switchover of a pair in sync whose backup's replication
# link is cut (silent, no TCP reset; the backup host stays in the ring) with
# no write in flight, so nothing has degraded the pair yet. Found by the chaos
# campaign (seed 1, 500 steps, --qemu-kill): a maintenance moved such a pair,
# the stop's flush waited on the silent backup with the guest paused, and the
# primary's mirror thread with it, for as long as TCP retransmits.
# Expect: the primary closes its connections to that backup after the link
# watch's bound, so the stop's drain ends within seconds: either it gives up
# (vm1 runs on on node1) or, with nothing owed (no write since the cut: the
# backup's export is writethrough, so every acknowledged block is on its
# disk), it completes and node2 is promoted. Never both running; after the
# heal the pair is in sync and every acknowledged block is where vm1 runs.
source "$(dirname "$0")/lib.sh"

switchover_over() { pair_state_not node1 vm1 switching-over && [ -n "$(runner vm1)" ]; }

round() {
	scenario_begin vm1 sync
	sampler_start vm1
	lab repl node2 cut
	t0=$(now_ms)
	lab exec node1 hasvc switchover vm1 --no-wait >/dev/null
	note "switchover asked; node2's replication link cut, nothing in flight"
	wait_for 20 "the drain's connections closed" event_count_above node1 "switchover drain (replication link cut?)" 0
	wait_for 30 "the switchover over" switchover_over
	note "the switchover ended $(($(now_ms) - t0)) ms after it was asked: vm1 runs on $(runner vm1)"
	lab exec node1 hasvc events | grep "vm1" | tail -4
	lab repl node2 heal
	writer_start vm1 0.2
	wait_more_acked 5 60
	faults_finish node1 vm1
}
rounds round

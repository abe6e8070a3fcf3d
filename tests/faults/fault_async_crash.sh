#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host crashes in async mode while the guest writes as
# fast as it can. Async mode may lose the last writes: this scenario MEASURES
# that window (blocks missing on the promoted copy, and how long before the
# crash the oldest missing one was acknowledged) instead of requiring zero.
# Still required: one running copy at most, no promotion of an unsynced backup.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 async
	sampler_start vm1
	writer_start vm1 0
	wait_more_acked 10
	note "crash node1 (primary, async mode) with writes in flight"
	t_crash=$(now_ms)
	lab crash node1
	wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
	writer_stop
	sampler_stop
	check_no_unsynced_promotion node2 vm1
	check_one_runner
	report_loss_on_runner vm1 "$t_crash"
}
rounds round

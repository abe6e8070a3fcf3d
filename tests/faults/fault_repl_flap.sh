#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup host's replication link flaps: cut and healed 10 times
# within about a minute (3 s each way) while the guest writes, in sync mode,
# on the qmp engine (issue 13: each heal resumes the paused job; a cut may
# come in the middle of a resync). Expect: the writes go on throughout (none
# held beyond the cut), the pair is never promoted, and once the link stays
# up it is in sync again with every acknowledged block on both, the images
# identical block for block, and its last copy a delta.
source "$(dirname "$0")/lib.sh"
live_lab_env

FLAPS=${HASVC_FLAPS:-10}

round() {
	scenario_begin vm1 sync
	# a write a second: at the default pace the writer can use up its 180
	# blocks before the scenario's end (then "3 more" never come; seen in
	# 2 of 5 runs of fault_resync_crash_backup)
	faults_start vm1 1
	t0=$(now_ms)
	for i in $(seq "$FLAPS"); do
		lab repl node2 cut >/dev/null
		sleep 3
		lab repl node2 heal >/dev/null
		sleep 3
	done
	note "$FLAPS cuts and heals in $(($(now_ms) - t0)) ms; $(acked_count) blocks acknowledged so far"
	note "the pair went degraded $(transition_count node1 vm1 in-sync degraded) times from in-sync," \
		"$(transition_count node1 vm1 initial-sync degraded) times from initial-sync (a cut during a resync)"
	faults_finish node1 vm1
	check_images_identical vm1
	note "the last copy: $(pair_field node1 vm1 'copy | .kind + "/" + .reason')"
	[ "$(pair_field node1 vm1 copy.kind)" = delta ] || fail "the last resync was $(pair_field node1 vm1 copy)"
}
rounds round

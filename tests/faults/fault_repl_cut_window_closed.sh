#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup's replication link is cut while its receive window is
# closed (the backup's QEMU fell behind: here held by SIGSTOP while a 32 MiB
# write goes out), then the backup runs on behind the cut. The primary's NBD
# connection then holds everything still to send and nothing unacknowledged:
# its kernel probes the closed window and nobody answers. Found by the chaos
# campaign (seed 2, 4 hosts, step 224: a switchover's stop hung on such a
# connection for good): the link watch counted only unacknowledged data, so it
# never saw this link as silent. Expect: the watch sees the silence, the pair
# leaves in-sync, the write completes within seconds of the bound, the
# guest's writes go on; after the heal every acknowledged block is in sync.
source "$(dirname "$0")/lib.sh"

big_write_done() { [ -e "$FAULT_DIR/big.done" ]; }

round() {
	scenario_begin vm1 sync
	faults_start vm1
	local qpid dev t0
	qpid=$(lab exec node2 cat /run/libvirt/qemu/vm1.pid)
	dev=$(disk_dev node1 vm1)
	writer_stop
	kill -STOP "$qpid"
	rm -f "$FAULT_DIR/big.done"
	(
		trap - EXIT
		timeout 600 "$LAB_CMD" exec node1 virsh qemu-monitor-command vm1 --hmp \
			"qemu-io -d $dev \"write -P 0x5a 16M 32M\"" >/dev/null 2>&1
		touch "$FAULT_DIR/big.done"
	) &
	sleep 3
	note "node2's QEMU held, 32 MiB on the way: $(lab exec node1 ss -tn "dst 10.77.0.12" | awk 'NR > 1 { print "send-q " $3 }' | sort -u | tr '\n' ' ')"
	lab repl node2 cut
	kill -CONT "$qpid"
	t0=$(now_ms)
	note "node2's replication link cut with its window closed; its QEMU runs again"
	# the link watch's 5 s, a round and the cut; before, the write waited
	# ~30 s, until a monitor call of the disk watch timed out on libvirt's
	# state change lock (and a switchover's stop, which has no such timeout,
	# for good)
	wait_for 15 "the 32 MiB write completed" big_write_done
	note "the write completed $(($(now_ms) - t0)) ms after the cut"
	wait_for 20 "vm1 out of in-sync" pair_state_not node1 vm1 in-sync
	note "vm1 is $(pair_field node1 vm1 state): $(pair_field node1 vm1 reason)"
	# the degrade's reason from the event log (the pair may be on its way
	# back already, the qmp engine's resync)
	event_count_above node1 "acknowledged nothing for" 0 ||
		fail "vm1 left in-sync for another reason than the silent link"
	writer_start vm1 0.2
	wait_more_acked 3 30
	lab repl node2 heal
	faults_finish node1 vm1
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup host's libvirtd is gone for good (killed: its socket
# file stays, nobody answers) while its corosync and hasvcd run on, and the
# pair then needs a new backup there (its replication link cut: degraded,
# and the host, which never left, gets the fresh backup). Found by the chaos
# campaign (seed 2, 24 steps, CI): a fence of node1 raced the nemesis, which
# restarted corosync and hasvcd there but no libvirtd; vm1's new backup went
# to node1, whose prepare waited 60 s for libvirtd and failed
# (reprotect-failed), and host-returned sent it straight back to node1:
# creating 60 s, degraded 3 s, for good (300 s seen in creating).
# Expect: after the failed prepare the pair waits degraded with that reason,
# then the next host that accepts backups (node3) takes the backup; the pair
# ends in sync there with every acknowledged block.
source "$(dirname "$0")/lib.sh"

backup_is() { [ "$(pair_field node1 vm1 backup)" = "$1" ]; }

round() {
	scenario_begin vm1 sync
	# A write a second: the scenario outlasts node2's 60 s grace for libvirtd,
	# and at the default pace the writer used up its 180 blocks before the end
	# on a quiet machine (nothing more to acknowledge, a false failure).
	faults_start vm1 0.8
	note "libvirtd on node2 killed (corosync and hasvcd stay)"
	lab exec node2 sh -c 'kill -KILL "$(cat /run/libvirtd.lab.pid)"'
	note "cut node2's replication link: the pair degrades"
	lab repl node2 cut
	wait_for 30 "vm1 out of in-sync" pair_state_not node1 vm1 in-sync
	lab repl node2 heal
	note "vm1 is $(pair_field node1 vm1 state) (backup $(pair_field node1 vm1 backup))"
	# node2's prepare waits 60 s for libvirtd (LIBVIRT_GRACE_USEC), then fails
	wait_for 120 "node2's prepare failed" event_count_above node1 "(reprotect-failed): a new backup could not be prepared on node2" 0
	note "$(lab exec node1 hasvc events | grep "vm1:" | grep -- "-> degraded (reprotect-failed)" | tail -1)"
	wait_for 30 "vm1's new backup on node3" backup_is node3
	[ "$(event_count node1 "(reprotect-failed)")" = 1 ] ||
		fail "node2 was tried again: $(lab exec node1 hasvc events | grep "vm1:" | tail -6)"
	lab exec node1 hasvc events | grep "vm1:" | tail -4
	faults_finish node1 vm1
	backup_is node3 || fail "vm1's backup is on $(pair_field node1 vm1 backup)"
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: a two-node cluster splits while the primary (on node2) writes.
# Both halves keep quorum (two_node); node1 (lower nodeid) wins the fence
# race, powers node2 off through its BMC, then promotes vm1's backup.
# Expect: exactly one host survives, vm1 runs on node1 with every block, and
# never two running copies.
source "$(dirname "$0")/lib.sh"

HOSTS=2 LAB_UP_ARGS="--fence-lost-hosts always"
round() {
	scenario_begin vm1 sync node2 node1
	faults_start vm1
	note "cut the link between node1 and node2"
	lab partition node2
	wait_for 60 "vm1 running on node1" domstate_is node1 vm1 running
	wait_more_acked 3
	sleep 10 # past the two-node fence delay: a second fence would have hit by now
	[ "$(lab status | awk '$4 != "processes=0"' | wc -l)" -eq 1 ] || fail "both hosts still run"
	faults_stop node1 vm1
}
rounds round

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the primary's host is cut off from the cluster but keeps running.
# Expect: it is fenced through its BMC before the backup runs; no acknowledged
# block is lost; never two running copies.
source "$(dirname "$0")/lib.sh"

round() {
	scenario_begin vm1 sync
	faults_start vm1
	note "partition node1 (primary)"
	lab partition node1
	wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
	wait_more_acked 5
	note "heal node1's link and power it on"
	lab heal node1
	lab power node1 on >/dev/null || true
	faults_finish node2 vm1
}
rounds round

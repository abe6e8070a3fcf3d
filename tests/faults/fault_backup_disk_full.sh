#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Fault: the backup host's image filesystem fills up while the guest writes.
# node2's image directory is a 48 MiB tmpfs; the 256 MiB disk outgrows it.
# Expect: the primary keeps writing, the pair leaves in-sync with a reason;
# once the filesystem has room again the pair is in sync again with every
# acknowledged block (on node2 or elsewhere).
source "$(dirname "$0")/lib.sh"

small_images() {
	lab exec "$1" bash -c 'mkdir -p /var/lib/libvirt/images && mount -t tmpfs -o size=48m lab-full /var/lib/libvirt/images'
}
SETUP_BACKUP=small_images

round() {
	scenario_begin vm1 sync
	sampler_start vm1
	writer_start vm1 0.1
	wait_for 120 "vm1 out of sync" pair_state_not node1 vm1 in-sync
	note "vm1 is $(pair_field node1 vm1 state): $(pair_field node1 vm1 reason)"
	lab exec node2 df -h /var/lib/libvirt/images | tail -1
	wait_more_acked 5 30
	[ "$(runner vm1)" = node1 ] || fail "vm1 left node1"
	note "node2's filesystem gets room again"
	lab exec node2 mount -o remount,size=1g /var/lib/libvirt/images
	faults_finish node1 vm1
}
rounds round

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

# identical VM: the primary's image and the backup's export hold the same
# blocks (the writer stopped; qemu-img compare with the image shared, -U).
identical() {
	local vm=$1 node backup port nbd=() img=/var/lib/libvirt/images/$1.qcow2
	node=$(runner "$vm")
	backup=$(pair_field "$node" "$vm" backup)
	port=$(pair_field "$node" "$vm" nbd_port)
	mapfile -t nbd < <(nbd_image "10.77.0.1${backup#node}" "$port" vda)
	if [ "${nbd[0]}" = --object ]; then
		lab exec "$node" qemu-img compare -q -U "${nbd[0]}" "${nbd[1]}" --image-opts \
			"driver=qcow2,file.driver=file,file.filename=$img" "${nbd[3]}"
	else
		lab exec "$node" qemu-img compare -q -U -f qcow2 -F raw "$img" "${nbd[2]}"
	fi
}

round() {
	scenario_begin vm1 sync
	faults_start vm1
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
	identical vm1 || fail "after the flaps the images differ: $(identical vm1 2>&1 || true)"
	note "the images are identical; the last copy: $(pair_field node1 vm1 'copy | .kind + "/" + .reason')"
	[ "$(pair_field node1 vm1 copy.kind)" = delta ] || fail "the last resync was $(pair_field node1 vm1 copy)"
}
rounds round

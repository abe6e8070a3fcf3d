#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 15, parallel sync writes with a VM of two disks whose states differ
# when the backup goes away: vdb (16 MiB) handed over to its quorum while
# vda (64 MiB of data, the copy held to 2 MiB/s) is still in its initial
# copy. node2's replication link cut there: vdb's child out (the bitmaps
# hold what it misses), vda's mirror paused (its job owes the rest). Healed:
# one resync that resumes vda's job and copies vdb's bitmaps, a delta, not
# a full copy of both; in sync; every block on the backup of each disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
VDB=/var/lib/libvirt/images/vm1-b.qcow2

# device_node NODE DEV: the node the guest device of DEV ("vda", "vdb") sits on.
device_node() {
	qmp node1 '{"execute":"query-block"}' |
		jq -r --arg d "$1" '[.[] | select(.qdev | test("virtio-backend")) | select(.inserted.file | test($d)) | .inserted."node-name"][0] // ""'
}
job_of() { qmp node1 '{"execute":"query-block-jobs"}' | jq -r --arg id "hs-$1" '[.[] | select(.device == $id)][0] // {} | .status // ""'; }
children_of() {
	qmp node1 '{"execute":"x-debug-query-block-graph"}' | jq -r --arg q "hs-g-$1" '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == $q) | $n[(.child | tostring)]] | join(" ")'
}
vdb_steady_vda_copying() {
	[[ $(children_of vdb) == *hs-s-vdb-* && $(job_of vdb) == "" && $(job_of vda) == running ]]
}
# qio_on DEV "CMD": qemu-io on vm1's disk DEV (its libvirt alias).
qio_on() {
	local alias out
	alias=$(lab exec node1 virsh dumpxml vm1 | grep -A12 "<target dev='$1'" | sed -n "s/.*<alias name='\([^']*\)'.*/\1/p" | head -1)
	out=$(lab exec node1 virsh qemu-monitor-command vm1 --hmp "qemu-io -d /machine/peripheral/$alias/virtio-backend \"$2\"")
	! echo "$out" | contains -iE "fail|error|pattern verification" || { echo "$out" >&2; return 1; }
}
# on_backup DEV FIRST LAST: blocks FIRST..LAST (1 MiB at i MiB, pattern i) on node2's export DEV.
on_backup() {
	local i port
	port=$(pair_field node1 vm1 nbd_port)
	for i in $(seq "$2" "$3"); do
		NBD_EXPORT=$1 nbd_io node1 10.77.0.12 "$port" -r -c "read -P $((i & 0xff)) ${i}M 1M" >/dev/null 2>&1 || return 1
	done
}
write_on() { local i; for i in $(seq "$2" "$3"); do qio_on "$1" "write -P $((i & 0xff)) ${i}M 1M"; done; }
vdb_child_gone() { ! children_of vdb | grep -q hs-s-; }

export HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp HASVC_SYNC_WRITES=parallel"
lab up --hosts 2
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 128M
lab exec node1 qemu-img create -q -f qcow2 "$VDB" 16M
# (the lab's machine has no PCI hotplug: the second disk goes into the definition, then a restart)
lab exec node1 virsh -q attach-disk vm1 "$VDB" vdb --driver qemu --subdriver qcow2 --targetbus virtio --config
lab exec node1 virsh -q destroy vm1
lab exec node1 virsh -q start vm1
write_on vda 1 64
write_on vdb 1 4
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync --bandwidth 2 --no-wait >/dev/null
wait_for 60 "vdb on its quorum, both children, while vda still copies" vdb_steady_vda_copying
note "vdb: $(device_node vdb) [$(children_of vdb)]; vda: job $(job_of vda)"

note "node2's replication link cut: vdb's child goes, vda's job pauses"
lab repl node2 cut
write_on vdb 5 8
write_on vda 65 68
wait_for 30 "vm1 degraded" pair_state_is node1 vm1 degraded
wait_for 10 "vdb's child out" vdb_child_gone
note "vdb [$(children_of vdb)], vda job $(job_of vda)"
lab repl node2 heal
t0=$(now_ms)
wait_for 240 "vm1 in-sync after the heal" pair_state_is node1 vm1 in-sync
note "in sync $(($(now_ms) - t0)) ms after the heal"
copy=$(pair_json node1 vm1 | jq -r '.copy.kind + " / " + (.copy.reason // "")')
note "the copy: $copy"
[[ $copy == delta* ]] || fail "the resync after the heal was '$copy', not a delta"
lab exec node1 hasvc events | grep vm1 | grep -E "resync|delta|full" | tail -3
on_backup vdb 1 8 || fail "a block of vdb is not on the backup"
on_backup vda 1 68 || fail "a block of vda is not on the backup"
! on_backup vdb 9 9 || fail "on_backup cannot fail?"
note "PASS"

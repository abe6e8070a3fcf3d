#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_quorum_resync.sh: the resync of issue 15's quorum design with the guest
# writing all along, never paused (docs/datapath-experiments.md, B6). An
# experiment (exp_*: not run by ctest); it fails when the images differ.
#
# The question: QEMU 10.0's mirror cannot start from a dirty bitmap, and
# blockdev-backup's sync=bitmap copies a point-in-time view, so a backup job
# alone, racing the guest, would leave old blocks on the backup (B4 paused the
# guest for it). The design tried here, per disk:
#
#   guest device -> hs-q (quorum, threshold 1, fifo) -> [local format node, NBD child]
#   bitmap hs-dirty on the local node, always recording
#
#   the NBD child fails -> removed; the guest writes on, the bitmap records
#   resync, guest running:
#     1. blockdev-mirror hs-q -> NBD node hs-m, sync none, write-blocking:
#        every new write reaches the backup, after the local disk has it
#     2. blockdev-backup local -> NBD node hs-b, sync bitmap hs-dirty
#        (on-success: the bitmap keeps what is written from then on): the
#        missed blocks as of its start. A guest write into a block it has not
#        copied yet is held by its copy-before-write filter until the old
#        block is on the backup; only then does the local write, and after it
#        the mirror's write of the new block, go out. Old before new.
#     3. the backup job done: NBD node hs-s added to the quorum (each write on
#        both, as the mirror also does: the same bytes), the mirror cancelled.
#
# The writer overwrites random 64 KiB blocks of a 16 MiB region with a new
# pattern each time, through the guest's block backend, from the outage to
# the end; the backup job is slowed (speed) so that many writes land on
# blocks it has not copied yet. At the end, the guest paused, the local disk
# and the backup are compared byte for byte (qemu-img compare over NBD).
#
# A control run first does step 2 alone (no mirror), then adds the child:
# the writes made during the copy are missing on the backup, and the compare
# must say so, or the check could not fail.
#
# EXP_BACKUP_SPEED (4194304 bytes/s) slows the backup job.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
SPEED=${EXP_BACKUP_SPEED:-4194304}
labdir=/var/lib/hasvc-lab/$HASVC_LAB
DEV=/machine/peripheral/virtio-disk0/virtio-backend
B=nbd://10.77.0.12:10809/vda
REGION=200 # MiB: the writer's 16 MiB

q1() { qmp node1 "$1"; }
children() {
	q1 '{"execute":"x-debug-query-block-graph"}' | jq -r '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == "hs-q") | "\(.name)=\($n[(.child | tostring)])"] | join(" ")'
}
child_edge() { children | tr ' ' '\n' | sed -n "s/=$1\$//p"; }
add_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"node\":\"$1\"}}" >/dev/null; }
del_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"child\":\"$(child_edge "$1")\"}}" >/dev/null; }
add_nbd() { # NAME: a fresh NBD client node to the backup's export
	q1 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\",\"node-name\":\"$1\",\"server\":{\"type\":\"inet\",\"host\":\"10.77.0.12\",\"port\":\"10809\"},\"export\":\"vda\",\"reconnect-delay\":0,\"open-timeout\":5}}" >/dev/null
}
del_node() { q1 "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"$1\"}}" >/dev/null; }
jobs_json() { q1 '{"execute":"query-jobs"}'; }
job_status() { jobs_json | jq -r --arg id "$1" '.[] | select(.id == $id) | .status'; }
dirty_count() {
	q1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
		jq -r '.[] | select(."node-name" == "libvirt-1-format") | ."dirty-bitmaps"[] | select(.name == "hs-dirty") | .count'
}

# The writer: random 64 KiB blocks of the region, a new pattern each, one at a
# time through one virsh session on node1, until $labdir/stop-writer exists.
writer_start() {
	rm -f "$labdir/stop-writer"
	(
		i=0
		while [ ! -e "$labdir/stop-writer" ]; do
			for _ in $(seq 20); do
				i=$((i + 1))
				printf "qemu-monitor-command %s --hmp 'qemu-io -d %s \"write -q -P %d %d 65536\"'\n" \
					$VM $DEV $((i % 250 + 1)) $((REGION * MIB + (RANDOM % 256) * 65536))
			done
			echo "$i" >"$labdir/writer-count"
		done | lab exec node1 virsh -q >/dev/null
	) &
	writer_pid=$!
}
writer_stop() {
	touch "$labdir/stop-writer"
	wait "$writer_pid" || true
	note "the writer issued $(cat "$labdir/writer-count" 2>/dev/null || echo ?) writes"
}

# identical: the local disk and the backup, byte for byte, the guest paused.
local_export_on() {
	q1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.11","port":"10810"}}}}' >/dev/null
	q1 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"cmp-vda","node-name":"libvirt-1-format","name":"vda","writable":false}}' >/dev/null
}
local_export_off() {
	q1 '{"execute":"block-export-del","arguments":{"id":"cmp-vda","mode":"hard"}}' >/dev/null
	q1 '{"execute":"nbd-server-stop"}' >/dev/null
}
identical() {
	local out rc=0
	local_export_on
	out=$(lab exec node1 qemu-img compare -f raw -F raw nbd://10.77.0.11:10810/vda $B 2>&1) || rc=$?
	local_export_off
	note "compare: ${out//$'\n'/ }"
	return $rc
}

# outage: the NBD child out (as at its failure), writes on the local disk only.
outage() {
	del_child hs-s
	del_node hs-s
	sleep "${1:-3}"
}

# backup_pass: step 2, waited for; sets copied and total (bytes).
backup_pass() {
	add_nbd hs-b
	q1 "{\"execute\":\"blockdev-backup\",\"arguments\":{\"job-id\":\"hs-bk\",\"device\":\"libvirt-1-format\",\"target\":\"hs-b\",\"sync\":\"bitmap\",\"bitmap\":\"hs-dirty\",\"bitmap-mode\":\"on-success\",\"speed\":$SPEED,\"auto-dismiss\":false}}" >/dev/null
	wait_for 120 "backup job concluded" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-jobs\"}' | jq -r '.return[] | select(.id == \"hs-bk\") | .status')\" = concluded ]"
	job=$(jobs_json | jq -c '.[] | select(.id == "hs-bk")')
	q1 '{"execute":"job-dismiss","arguments":{"id":"hs-bk"}}' >/dev/null
	[ "$(jq -r '.error // ""' <<<"$job")" = "" ] || fail "the backup job failed: $job"
	del_node hs-b
	copied=$(jq -r '."current-progress"' <<<"$job")
	total=$(jq -r '."total-progress"' <<<"$job")
}

lab up --hosts 2 --no-daemon
lab_pair_domains
export_disk node2 10.77.0.12 10809
lab exec node1 virsh qemu-monitor-command $VM --hmp "qemu-io -d $DEV \"write -P 1 ${REGION}M 16M\"" >/dev/null

note "setup: the guest device onto hs-q [local], the initial sync by a write-blocking mirror from hs-q"
add_nbd hs-m
lab exec node1 virsh -q suspend $VM >/dev/null
q1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"hs-q","vote-threshold":1,"read-pattern":"fifo","children":["hs-m"]}}' >/dev/null
q1 "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"$DEV\",\"property\":\"drive\",\"value\":\"hs-q\"}}" >/dev/null
add_child libvirt-1-format
del_child hs-m
lab exec node1 virsh -q resume $VM >/dev/null
q1 '{"execute":"block-dirty-bitmap-add","arguments":{"node":"libvirt-1-format","name":"hs-dirty","granularity":65536}}' >/dev/null
writer_start
q1 '{"execute":"blockdev-mirror","arguments":{"job-id":"hs-vda","device":"hs-q","target":"hs-m","sync":"full","on-target-error":"stop","copy-mode":"write-blocking"}}' >/dev/null
wait_for 120 "mirror READY" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[0].ready')\" = true ]"
add_nbd hs-s
add_child hs-s
q1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 30 "mirror gone" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
del_node hs-m
note "in sync through the quorum: $(children)"
sleep 2
writer_stop
lab exec node1 virsh -q suspend $VM >/dev/null
identical || fail "the initial sync (mirror, then the quorum) left the images different"
lab exec node1 virsh -q resume $VM >/dev/null

note "control: the delta by a backup job alone while the guest writes, then the child back"
q1 '{"execute":"block-dirty-bitmap-clear","arguments":{"node":"libvirt-1-format","name":"hs-dirty"}}' >/dev/null
writer_start
outage 3
backup_pass
note "control: backup job copied $copied of $total bytes"
add_nbd hs-s
add_child hs-s
writer_stop
lab exec node1 virsh -q suspend $VM >/dev/null
if identical; then
	fail "control: the images are identical although writes during the backup job reached only the local disk (the check cannot fail?)"
fi
note "control: different, as it must be"
note "control: the rest copied by a backup pass with the guest paused, so the real run starts from equal disks"
del_child hs-s
del_node hs-s
backup_pass
add_nbd hs-s
add_child hs-s
identical || fail "the control's repair (a backup pass with the guest paused) did not make the images equal"
lab exec node1 virsh -q resume $VM >/dev/null

note "the design: outage, then mirror (sync none) + backup (bitmap) while the guest writes, then the child back"
q1 '{"execute":"block-dirty-bitmap-clear","arguments":{"node":"libvirt-1-format","name":"hs-dirty"}}' >/dev/null
writer_start
outage 3
missed=$(dirty_count)
note "outage: $missed bytes dirty on the local node"
add_nbd hs-m
t0=$(now_ms)
q1 '{"execute":"blockdev-mirror","arguments":{"job-id":"hs-vda","device":"hs-q","target":"hs-m","sync":"none","on-target-error":"stop","copy-mode":"write-blocking"}}' >/dev/null
backup_pass
add_nbd hs-s
add_child hs-s
q1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 30 "mirror gone" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
del_node hs-m
note "resync: backup job copied $copied of $total bytes ($missed dirty at its start) in $(($(now_ms) - t0)) ms; $(children)"
sleep 2
writer_stop
lab exec node1 virsh -q suspend $VM >/dev/null
identical || fail "the images differ after the live resync"
[ "$copied" -lt $((32 * MIB)) ] || fail "the resync copied $copied bytes: more than the writer's region"
note "PASS: identical after a live resync of $copied bytes"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Incremental resync by owning the mirror job (issue 13), proven by hand with
# QMP on the lab's real libvirtd 11.3 and QEMU 10.0 (TCG), so that a change in
# the platform shows up here first. docs/datapath-experiments.md explains each
# step and the figures this prints.
#
#   1. The primary adds the backup's NBD export as a block node of its own
#      (blockdev-add nbd, reconnect-delay 0) and mirrors into it with
#      blockdev-mirror sync=full, on-target-error=stop, write-blocking, job id
#      ours. It reaches READY; libvirt does not see it (no block job for vda)
#      and leaves it alone across a libvirtd restart.
#   2. The backup's export goes away (block-export-del + nbd-server-stop):
#      guest writes complete, the job pauses (standby, io-status failed) and
#      counts what it owes (len - offset = bytes written).
#   3. Exported again, block-job-resume (again until the NBD client is back):
#      the job copies exactly the bytes written; images compare equal.
#      Then the backup is cut off silently (link down, no reset): a write in
#      flight completes once QEMU's socket is shut down from outside
#      (sock_shutdown.py), and QMP yank is shown to kill the node for good.
#   4. The backup's QEMU is killed and started again on the same image: the
#      same NBD node reconnects to the new process; only the delta travels.
#   5. Switchover: the old primary becomes the backup; the new primary, still
#      paused, mirrors back with sync=none: READY at once, copies only what is
#      written after, images equal.
#   6. block-job-change, a dirty bitmap next to a running mirror, and
#      blockdev-backup refused while the mirror holds the node; the cost of
#      reconnect-delay 2 on the first write after the backup vanished; and
#      QMP yank, which leaves the NBD node dead for good (hence the socket
#      shutdown of step 3 to cut a silent backup).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
labdir=/var/lib/hasvc-lab/$HASVC_LAB

# timed_write NODE DEV OFFSET_MIB PATTERN [SIZE]: one write through the guest's block
# layer; prints its time in ms as qemu-io measured it (-C line in the domain log).
timed_write() {
	local log=$labdir/$1/var/log/libvirt/qemu/$VM.log n0
	n0=$(wc -l <"$log")
	lab exec "$1" virsh qemu-monitor-command "$VM" --hmp \
		"qemu-io -d /machine/peripheral/$2/virtio-backend \"write -C -P $4 $(($3 * MIB)) ${5:-1M}\"" >/dev/null
	tail -n +$((n0 + 1)) "$log" | awk -F, '/^[0-9]+,1,[0-9:.]+,[0-9.]+,[0-9.]+$/ { printf "%d\n", 1000 / $5; exit }'
}
# write_mib NODE DEV FIRST COUNT: COUNT 1 MiB writes from FIRST MiB on; prints the ms of each.
write_mib() {
	local i out=""
	for i in $(seq "$3" $(($3 + $4 - 1))); do out+="$(timed_write "$1" "$2" "$i" $((i & 0xff))) "; done
	echo "$out"
}
# identical A_URL B_URL: qemu-img compare over NBD, from node1's network.
identical() { lab exec "$1" qemu-img compare -q -f raw -F raw "$2" "$3"; }
# cmp_export NODE ADDR: a read-only export of NODE's disk on port 10810, for compares.
cmp_export() {
	qmp "$1" "{\"execute\":\"nbd-server-start\",\"arguments\":{\"addr\":{\"type\":\"inet\",\"data\":{\"host\":\"$2\",\"port\":\"10810\"}}}}" >/dev/null
	qmp "$1" '{"execute":"block-export-add","arguments":{"type":"nbd","id":"cmp-vda","node-name":"libvirt-1-format","name":"vda","writable":false}}' >/dev/null
}
P=nbd://10.77.0.11:10810/vda # the primary's disk, read-only
B=nbd://10.77.0.12:10809/vda # the backup's export
# resync_delta NODE W WHAT: resumes NODE's paused job until READY, then asserts
# that it copied exactly W bytes and that both images are identical.
resync_delta() {
	local off0 tries copied
	off0=$(job "$1" offset)
	tries=$(resume_until_ready "$1")
	copied=$(($(job "$1" offset) - off0))
	note "$3: READY after $tries resume(s); copied $copied bytes for W = $2"
	[ "$copied" = "$2" ] || fail "$3: copied $copied bytes, W was $2"
	identical "$1" $P $B || fail "$3: images differ after the incremental resync"
}

start_backup() { # NODE: the backup domain, paused, its disk exported
	lab exec "$1" virsh -q start --paused $VM >/dev/null
	export_disk "$1" "10.77.0.1${1#node}" 10809
}
lab up --hosts 2 --no-daemon
lab_pair_domains
export_disk node2 10.77.0.12 10809
write_mib node1 virtio-disk0 0 4 >/dev/null
cmp_export node1 10.77.0.11

note "1. blockdev-add nbd + blockdev-mirror (sync full, on-target-error stop, write-blocking, job hs-vda)"
add_nbd node1 hs-nbd-vda 10.77.0.12 0
t0=$(now_ms)
mirror node1 hs-nbd-vda full
wait_for 60 "hs-vda READY" job_ready node1
note "READY in $(($(now_ms) - t0)) ms (256 MiB); actively-synced=$(job node1 actively-synced)"
[ "$(job node1 actively-synced)" = true ] || fail "the write-blocking mirror is not actively synced"
identical node1 $P $B || fail "images differ after the initial sync"
lab exec node1 virsh blockjob $VM vda | contains "No current block job" || fail "libvirt reports a block job on vda"
lab exec node1 virsh domblklist $VM | contains "/var/lib/libvirt/images/$VM.qcow2" || fail "libvirt's disk source changed"
lab restart node1 libvirtd
[ "$(job node1 status)" = ready ] || fail "libvirtd's restart touched our job: $(qmp node1 '{"execute":"query-block-jobs"}')"
lab exec node1 virsh blockjob $VM vda | contains "No current block job" || fail "libvirt adopted our job"
note "libvirt ignores the job it did not start, before and after a libvirtd restart"

note "2. the backup's export goes away; W = 8 MiB written meanwhile"
unexport_disk node2
ms=$(write_mib node1 virtio-disk0 16 8)
note "write times (ms), reconnect-delay 0: $ms"
[ "$(job node1 status)" = standby ] && [ "$(job node1 paused)" = true ] ||
	fail "the job did not pause on the target error: $(qmp node1 '{"execute":"query-block-jobs"}')"
[ "$(job node1 io-status)" = failed ] || fail "io-status is $(job node1 io-status), not failed"
[ "$(owed node1)" = $((8 * MIB)) ] || fail "the job owes $(owed node1) bytes for 8 MiB written"
for m in $ms; do [ "$m" -lt 1000 ] || fail "a write took $m ms with the target gone (reconnect-delay 0)"; done

note "3. exported again, block-job-resume: only the delta travels"
export_disk node2 10.77.0.12 10809
resync_delta node1 $((8 * MIB)) "export back"

note "3b. silent cut (link down, no reset): the write in flight, then shutdown(2) of QEMU's socket"
qemu_pid=$(lab exec node1 cat /run/libvirt/qemu/$VM.pid)
log1=$labdir/node1/var/log/libvirt/qemu/$VM.log
lab partition node2
n0=$(wc -l <"$log1")
lab exec node1 virsh qemu-monitor-command $VM --hmp \
	'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "aio_write -C -P 0x5a 40M 1M"' >/dev/null
sleep 2
[ -z "$(tail -n +$((n0 + 1)) "$log1" | grep -E '^[0-9]+,1,')" ] || fail "the write completed although the backup is cut off"
t0=$(now_ms)
[ "$(lab exec node1 python3 "$SRC/tests/lab/sock_shutdown.py" "$qemu_pid" 10.77.0.12 10809)" = 1 ] ||
	fail "no connection of QEMU to the backup was shut down"
wait_for 10 "the write in flight" bash -c "tail -n +$((n0 + 1)) '$log1' | grep -qE '^1048576,1,'"
note "write in flight done $(($(now_ms) - t0)) ms after the shutdown (it had waited 2 s); job $(job node1 status)/$(job node1 io-status)"
write_mib node1 virtio-disk0 41 3 >/dev/null
lab heal node2
resync_delta node1 $((4 * MIB)) "link healed"

note "4. the backup's QEMU killed and started again on the same image"
lab exec node2 virsh -q destroy $VM >/dev/null
ms=$(write_mib node1 virtio-disk0 48 6)
note "write times (ms) with the backup's QEMU gone: $ms"
[ "$(owed node1)" = $((6 * MIB)) ] || fail "the job owes $(owed node1) bytes for 6 MiB written"
start_backup node2
resync_delta node1 $((6 * MIB)) "new backup QEMU, same NBD node"

note "5. switchover: node2 becomes the primary, mirrors back to node1 with sync=none"
write_mib node1 virtio-disk0 60 2 >/dev/null
lab exec node1 virsh -q suspend $VM >/dev/null
identical node1 $P $B || fail "images differ at the switchover"
qmp node1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 10 "hs-vda gone" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
lab exec node1 virsh -q destroy $VM >/dev/null
lab exec node1 virsh -q undefine $VM >/dev/null
lab exec node1 virsh -q define "$labdir/backup.xml" >/dev/null
start_backup node1
unexport_disk node2
add_nbd node2 hs-nbd-vda 10.77.0.11 0
mirror node2 hs-nbd-vda none
job_ready node2 || fail "a sync=none mirror is not READY at once: $(qmp node2 '{"execute":"query-block-jobs"}')"
[ "$(job node2 len)" = 0 ] || fail "a sync=none mirror has $(job node2 len) bytes to copy at start"
lab exec node2 virsh -q resume $VM >/dev/null
write_mib node2 ua-hasvc-vda 70 4 >/dev/null
wait_for 10 "reverse mirror READY" job_ready node2
note "reverse mirror: copied $(job node2 offset) bytes for 4 MiB written since the switch"
[ "$(job node2 offset)" = $((4 * MIB)) ] || fail "the reverse mirror copied $(job node2 offset) bytes, not 4 MiB"
cmp_export node2 10.77.0.12
identical node1 nbd://10.77.0.12:10810/vda nbd://10.77.0.11:10809/vda ||
	fail "images differ after the switchover and the reverse mirror"

note "6. block-job-change, a dirty bitmap beside the mirror, blockdev-backup"
e=$(qmp_error node2 '{"execute":"block-job-change","arguments":{"id":"hs-vda","type":"mirror","copy-mode":"background"}}')
note "block-job-change to background: $e"
qmp node2 '{"execute":"block-job-change","arguments":{"id":"hs-vda","type":"mirror","copy-mode":"write-blocking"}}' >/dev/null
qmp node2 '{"execute":"block-dirty-bitmap-add","arguments":{"node":"libvirt-1-format","name":"hs-delta","granularity":65536}}' >/dev/null
timed_write node2 ua-hasvc-vda 80 1 64k >/dev/null
count=$(qmp node2 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '.[] | select(."node-name" == "libvirt-1-format") | ."dirty-bitmaps"[] | select(.name == "hs-delta") | .count')
[ "$count" = 65536 ] || fail "the bitmap beside the mirror counts $count bytes for one 64 KiB write"
qmp node2 '{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"hs-null","size":268435456}}' >/dev/null
e=$(qmp_error node2 '{"execute":"blockdev-backup","arguments":{"job-id":"hs-bk","device":"libvirt-1-format","target":"hs-null","sync":"bitmap","bitmap":"hs-delta","bitmap-mode":"on-success"}}')
note "blockdev-backup sync=bitmap beside the mirror: $e"
[[ $e == *"in use by block job: mirror"* ]] || fail "blockdev-backup was refused for another reason: $e"

note "6b. reconnect-delay 2: the first write after the target vanished"
qmp node2 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 10 "hs-vda gone" bash -c "[ -z \"\$($LAB_CMD exec node2 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[].device')\" ]"
add_nbd node2 hs-nbd-vda2 10.77.0.11 2
mirror node2 hs-nbd-vda2 full
wait_for 60 "hs-vda READY" job_ready node2
unexport_disk node1
ms=$(write_mib node2 ua-hasvc-vda 90 3)
note "write times (ms), reconnect-delay 2: $ms"
first=${ms%% *}
[ "$first" -ge 1800 ] && [ "$first" -lt 5000 ] || fail "the first write took $first ms with reconnect-delay 2"
for m in ${ms#* }; do [ "$m" -lt 1000 ] || fail "a later write took $m ms: the job should be paused"; done
[ "$(job node2 status)" = standby ] || fail "the job is $(job node2 status), not paused"

note "6c. QMP yank of a connected NBD node: it never comes back"
export_disk node1 10.77.0.11 10809
resume_until_ready node2 >/dev/null
qmp node2 '{"execute":"yank","arguments":{"instances":[{"type":"block-node","node-name":"hs-nbd-vda2"}]}}' >/dev/null
timed_write node2 ua-hasvc-vda 95 1 >/dev/null
[ "$(job node2 io-status)" = failed ] || fail "a write after the yank did not fail the target"
for i in 1 2 3 4; do
	qmp node2 '{"execute":"block-job-resume","arguments":{"device":"hs-vda"}}' >/dev/null 2>&1 || true
	sleep 1
	! job_ready node2 || fail "the NBD node reconnected after a yank"
done
note "4 resumes after the yank, export up: still $(job node2 status)/$(job node2 io-status)"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Parallel sync writes with QEMU's quorum driver (issue 15), proven by hand
# with QMP on the lab's real libvirtd 11.3 and QEMU 10.0 (TCG): what QEMU
# allows in a running libvirt domain, and what it then does. The figures it
# prints are explained in docs/datapath-experiments.md.
#
#   1. A quorum over the guest's format node cannot be added while the guest
#      device uses it (quorum never shares WRITE). What works, with the VM
#      paused and the images equal (an owned write-blocking mirror was READY):
#      blockdev-add quorum (vote-threshold 1, read-pattern fifo) over the NBD
#      node alone, qom-set the virtio-blk device's "drive" to it, then
#      x-blockdev-change: add the format node, delete the NBD child, add it
#      back, so that the local disk is the first child (fifo reads it).
#   2. Writes reach both disks (read back over NBD); latencies of 4 KiB and
#      64 KiB writes are printed for none, write-blocking mirror, NBD alone
#      (the quorum with only its NBD child) and quorum.
#   3. The NBD child fails (the export goes away, then a silent cut ended by
#      a socket shutdown): the guest's writes still succeed, QUORUM_REPORT_BAD
#      names the NBD node (throttled: fewer events than failed writes); a
#      dirty bitmap on the local node counts the writes. The hazard: a
#      reconnected NBD child takes writes again with the missed ones absent.
#   4. Delta resync in this design: the NBD child is removed, blockdev-backup
#      sync=bitmap (allowed: no mirror holds the node) copies what the bitmap
#      holds to a new NBD node, which then rejoins the quorum; images equal.
#   5. libvirtd's restart leaves the quorum alone; and the graph goes back to
#      libvirt's (before a live migration, or to unpair): a null-co child
#      takes the quorum's last place, then qom-set drive=the format node.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
OPS=${QUORUM_OPS:-60}
labdir=/var/lib/hasvc-lab/$HASVC_LAB
log1=$labdir/node1/var/log/libvirt/qemu/$VM.log
DEV=/machine/peripheral/virtio-disk0/virtio-backend
B=nbd://10.77.0.12:10809/vda

q1() { qmp node1 "$1"; }
# children: the quorum's children as "edge=node" words, in order.
children() {
	q1 '{"execute":"x-debug-query-block-graph"}' | jq -r '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == "hs-q") | "\(.name)=\($n[(.child | tostring)])"] | join(" ")'
}
child_edge() { children | tr ' ' '\n' | sed -n "s/=$1\$//p"; }
# add_child NODE / del_child NODE: x-blockdev-change on the quorum hs-q.
add_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"node\":\"$1\"}}" >/dev/null; }
del_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"child\":\"$(child_edge "$1")\"}}" >/dev/null; }
export_backup() {
	qmp node2 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.12","port":"10809"}}}}' >/dev/null
	qmp node2 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"e-vda","node-name":"libvirt-1-format","name":"vda","writable":true,"writethrough":true}}' >/dev/null
}
unexport_backup() {
	qmp node2 '{"execute":"block-export-del","arguments":{"id":"e-vda","mode":"hard"}}' >/dev/null
	qmp node2 '{"execute":"nbd-server-stop"}' >/dev/null
}
add_nbd() { # NAME
	q1 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\",\"node-name\":\"$1\",\"server\":{\"type\":\"inet\",\"host\":\"10.77.0.12\",\"port\":\"10809\"},\"export\":\"vda\",\"reconnect-delay\":0,\"open-timeout\":5}}" >/dev/null
}
# qio "CMD": one qemu-io command through the guest's block backend.
qio() { lab exec node1 virsh qemu-monitor-command $VM --hmp "qemu-io -d $DEV \"$1\"" >/dev/null; }
# on_backup OFFSET_MIB PATTERN: the backup's export holds that 1 MiB block.
on_backup() { lab exec node1 qemu-io -f raw -r -c "read -P $2 $(($1 * MIB)) 1M" $B >/dev/null 2>&1; }
# mean_ms SIZE REGION_MIB: mean latency of OPS sequential writes of SIZE at REGION
# (one virsh session, each write timed by qemu-io's -C line in the domain log).
mean_ms() {
	local n0 i
	n0=$(wc -l <"$log1")
	for i in $(seq 0 $((OPS - 1))); do
		printf "qemu-monitor-command %s --hmp 'qemu-io -d %s \"write -C -P %d %d %d\"'\n" \
			$VM $DEV $((i % 200 + 1)) $(($2 * MIB + i * $1)) "$1"
	done | lab exec node1 virsh -q >/dev/null
	tail -n +$((n0 + 1)) "$log1" | awk -F, -v ops="$OPS" '
		/^[0-9]+,1,[0-9:.]+,[0-9.]+,[0-9.]+$/ { t += 1000 / $5; n++ }
		END { if (n != ops) exit 1; printf "%.2f", t / n }' || fail "not every timed write was reported"
}
declare -A lat
measure() { # CONFIG
	lat[$1.4k]=$(mean_ms 4096 100)
	lat[$1.64k]=$(mean_ms 65536 110)
	note "$1: 4 KiB ${lat[$1.4k]} ms, 64 KiB ${lat[$1.64k]} ms (mean of $OPS)"
}

lab up --hosts 2 --no-daemon
lab_pair_domains
export_backup
# The measured regions allocated first, so no configuration pays for allocation.
qio "write -P 1 100M 32M"
measure none

note "initial sync: an owned write-blocking mirror into the NBD node, READY"
add_nbd hs-nbd-vda
q1 '{"execute":"blockdev-mirror","arguments":{"job-id":"hs-vda","device":"libvirt-1-format","target":"hs-nbd-vda","sync":"full","on-target-error":"stop","copy-mode":"write-blocking"}}' >/dev/null
wait_for 60 "mirror READY" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[0].ready')\" = true ]"
measure mirror

note "1. insertion: paused VM, mirror cancelled READY, quorum over NBD, qom-set drive, x-blockdev-change"
lab exec node1 virsh -q suspend $VM >/dev/null
q1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 10 "mirror gone" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
e=$(qmp_error node1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"hs-q0","vote-threshold":1,"read-pattern":"fifo","children":["libvirt-1-format","hs-nbd-vda"]}}')
note "blockdev-add quorum: $e"
[[ $e == *"Permission conflict on node 'libvirt-1-format'"*"virtio-disk0"* ]] || fail "refused for another reason: $e"

t0=$(now_ms)
q1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"hs-q","vote-threshold":1,"read-pattern":"fifo","children":["hs-nbd-vda"]}}' >/dev/null
q1 '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/virtio-disk0/virtio-backend","property":"drive","value":"hs-q"}}' >/dev/null
[ "$(q1 '{"execute":"query-block"}' | jq -r '.[] | select(.qdev | test("virtio-disk0")) | .inserted."node-name"')" = hs-q ] ||
	fail "qom-set drive did not put the quorum under the guest device"
measure nbd
add_child libvirt-1-format
del_child hs-nbd-vda
add_child hs-nbd-vda
note "inserted in $(($(now_ms) - t0)) ms (with the nbd-only measurement); children: $(children)"
[[ $(children) == children.1=libvirt-1-format\ children.2=hs-nbd-vda ]] || fail "children: $(children)"
lab exec node1 virsh -q resume $VM >/dev/null
lab exec node1 virsh blockjob $VM vda | contains "No current block job" || fail "libvirt sees a job"
lab exec node1 virsh domblklist $VM | contains "/var/lib/libvirt/images/$VM.qcow2" || fail "libvirt's disk source changed"

note "2. writes through the quorum land on both disks"
measure quorum
qio "write -P 0x21 10M 1M"
on_backup 10 0x21 || fail "a write acknowledged through the quorum is not on the backup"
! on_backup 10 0x22 || fail "the pattern check cannot fail"
qio "read -P 0x21 10M 1M"
r4=$(awk -v q="${lat[quorum.4k]}" -v m="${lat[mirror.4k]}" 'BEGIN { printf "%.2f", q / m }')
r64=$(awk -v q="${lat[quorum.64k]}" -v m="${lat[mirror.64k]}" 'BEGIN { printf "%.2f", q / m }')
note "quorum / write-blocking mirror: 4 KiB $r4, 64 KiB $r64; none ${lat[none.4k]}/${lat[none.64k]}, nbd ${lat[nbd.4k]}/${lat[nbd.64k]}"

note "3. the NBD child fails: export gone (reset), writes go on"
q1 '{"execute":"block-dirty-bitmap-add","arguments":{"node":"libvirt-1-format","name":"hs-delta","granularity":65536}}' >/dev/null
lab exec node1 timeout 8 virsh qemu-monitor-event $VM --event QUORUM_REPORT_BAD --loop >"$labdir/events" 2>&1 &
events_pid=$!
sleep 1
unexport_backup
for i in $(seq 20 27); do qio "write -P $i ${i}M 1M"; done
qio "read -P 27 27M 1M"
! grep -q 'Pattern verification failed\|error' <(tail -20 "$log1") || fail "a write or read failed with the NBD child gone"
wait "$events_pid" || true
bad=$(grep -c 'QUORUM_REPORT_BAD' "$labdir/events" || true)
note "8 writes with the NBD child failing: all succeeded; $bad QUORUM_REPORT_BAD event(s): $(grep -o '"node-name":"[^"]*"' "$labdir/events" | sort -u | tr '\n' ' ')"
[ "$bad" -ge 1 ] && [ "$bad" -lt 8 ] || fail "$bad QUORUM_REPORT_BAD events for 8 failed writes (throttling changed?)"
grep -q '"node-name":"hs-nbd-vda"' "$labdir/events" || fail "QUORUM_REPORT_BAD does not name the NBD node"
count=$(q1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '.[] | select(."node-name" == "libvirt-1-format") | ."dirty-bitmaps"[] | select(.name == "hs-delta") | .count')
[ "$count" = $((8 * MIB)) ] || fail "the bitmap on the local node counts $count bytes for 8 MiB written"

note "3. hazard: the export back, the NBD child takes writes again, holes and all"
export_backup
for i in $(seq 15); do
	qio "write -P 0x30 30M 1M"
	! on_backup 30 0x30 || break
	sleep 1
done
on_backup 30 0x30 || fail "the reconnected NBD child does not take writes after 15 s"
! on_backup 20 20 || fail "a write missed during the outage is on the backup"
note "reconnected by itself after $i write(s) 1 s apart: new writes on the backup, the 8 MiB missed are not"

note "3. silent cut: a write in flight waits for the NBD child until its socket is shut down"
lab partition node2
n0=$(wc -l <"$log1")
lab exec node1 virsh qemu-monitor-command $VM --hmp "qemu-io -d $DEV \"aio_write -C -P 0x31 31M 1M\"" >/dev/null
sleep 2
[ -z "$(tail -n +$((n0 + 1)) "$log1" | grep -E '^1048576,1,')" ] || fail "the write completed although the backup is cut off"
t0=$(now_ms)
[ "$(lab exec node1 python3 "$SRC/tests/lab/sock_shutdown.py" "$(lab exec node1 cat /run/libvirt/qemu/$VM.pid)" 10.77.0.12 10809)" = 1 ] ||
	fail "no connection of QEMU to the backup was shut down"
wait_for 10 "the write in flight" bash -c "tail -n +$((n0 + 1)) '$log1' | grep -qE '^1048576,1,'"
note "write in flight acknowledged $(($(now_ms) - t0)) ms after the shutdown"
lab heal node2

note "4. delta resync: NBD child out, blockdev-backup sync=bitmap to a new NBD node, back in"
lab exec node1 virsh -q suspend $VM >/dev/null
del_child hs-nbd-vda
q1 '{"execute":"blockdev-del","arguments":{"node-name":"hs-nbd-vda"}}' >/dev/null
count=$(q1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '.[] | select(."node-name" == "libvirt-1-format") | ."dirty-bitmaps"[] | select(.name == "hs-delta") | .count')
add_nbd hs-nbd-b
t0=$(now_ms)
q1 '{"execute":"blockdev-backup","arguments":{"job-id":"hs-bk","device":"libvirt-1-format","target":"hs-nbd-b","sync":"bitmap","bitmap":"hs-delta","bitmap-mode":"on-success","auto-dismiss":false}}' >/dev/null
wait_for 60 "backup job concluded" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-jobs\"}' | jq -r '.return[] | select(.id == \"hs-bk\") | .status')\" = concluded ]"
job=$(q1 '{"execute":"query-jobs"}' | jq -c '.[] | select(.id == "hs-bk")')
q1 '{"execute":"job-dismiss","arguments":{"id":"hs-bk"}}' >/dev/null
note "bitmap held $count bytes; backup job $(jq -r '."current-progress"' <<<"$job") of $(jq -r '."total-progress"' <<<"$job") bytes in $(($(now_ms) - t0)) ms, error: $(jq -r '.error // "none"' <<<"$job")"
[ "$(jq -r '.error // ""' <<<"$job")" = "" ] || fail "the backup job failed: $job"
[ "$(jq -r '."current-progress"' <<<"$job")" = "$count" ] || fail "the backup job copied other than the bitmap's bytes: $job"
add_child hs-nbd-b
note "children: $(children)"
q1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.11","port":"10810"}}}}' >/dev/null
q1 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"cmp-vda","node-name":"libvirt-1-format","name":"vda","writable":false}}' >/dev/null
lab exec node1 qemu-img compare -q -f raw -F raw nbd://10.77.0.11:10810/vda $B || fail "images differ after the bitmap resync"
lab exec node1 virsh -q resume $VM >/dev/null
qio "write -P 0x41 40M 1M"
on_backup 40 0x41 || fail "the rejoined NBD child does not take writes"

note "5. libvirtd restarted with the quorum in place; then back to libvirt's own graph"
lab restart node1 libvirtd
domstate_is node1 $VM running || fail "vm1 is $(domstate node1 $VM) after libvirtd's restart"
[ "$(q1 '{"execute":"query-block"}' | jq -r '.[] | select(.qdev | test("virtio-disk0")) | .inserted."node-name"')" = hs-q ] ||
	fail "libvirtd's restart changed the guest's graph"
e=$(qmp_error node1 '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/virtio-disk0/virtio-backend","property":"drive","value":"libvirt-1-format"}}')
[[ $e == *"Permission conflict"* ]] || fail "qom-set back to the format node refused for another reason: $e"
t0=$(now_ms)
lab exec node1 virsh -q suspend $VM >/dev/null
q1 '{"execute":"blockdev-add","arguments":{"driver":"null-co","node-name":"hs-null","size":268435456}}' >/dev/null
add_child hs-null
del_child libvirt-1-format
del_child hs-nbd-b
q1 '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/virtio-disk0/virtio-backend","property":"drive","value":"libvirt-1-format"}}' >/dev/null
q1 '{"execute":"blockdev-del","arguments":{"node-name":"hs-q"}}' >/dev/null
lab exec node1 virsh -q resume $VM >/dev/null
note "reverted in $(($(now_ms) - t0)) ms (placeholder null-co child, then qom-set drive)"
[ "$(q1 '{"execute":"query-block"}' | jq -r '.[] | select(.qdev | test("virtio-disk0")) | .inserted."node-name"')" = libvirt-1-format ] ||
	fail "the guest device is not back on libvirt's format node"
qio "write -P 0x42 41M 1M"
qio "read -P 0x41 40M 1M"
qio "read -P 0x42 41M 1M"
! grep -q 'Pattern verification failed' "$log1" || fail "the disk lost data through the quorum's removal"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_quorum_model.sh: does QEMU 10.0 run a sync write's two legs one after
# the other (write-blocking mirror) or together (quorum)? Measured on a model
# with no disk and no network in it, so that this 2-core TCG machine's load
# cannot hide the answer: every leg is a null-co node that takes LEG_MS
# (default 5) per read, write or flush (latency-ns).
#
# In the running VM's QEMU, beside the guest's own disk:
#   one      n-one                 a single leg
#   quorum   q [n-c, n-d]          vote-threshold 1, read-pattern fifo
#   mirror   n-e --mirror--> n-f   blockdev-mirror sync=none, write-blocking, READY
# each exported over NBD (writable, writethrough off) on 10.77.0.11:10811, and
# written from a qemu-io process on node1, 4 KiB x OPS, queue depth 1, twice:
#   writeback      qemu-io -t writeback: plain writes, as from a guest whose
#                  driver negotiated the flush feature (every Linux guest)
#   writethrough   qemu-io's default: every write FUA. The lab's guests are in
#                  this mode too: without an OS, SeaBIOS leaves virtio-blk's
#                  write cache off, so each HMP qemu-io write is FUA.
# Quorum does not advertise FUA (quorum.c sets supported_write_flags to
# WRITE_UNCHANGED only), so the block layer turns a FUA write into a write and
# a flush, and quorum_co_flush flushes its children one after the other:
# a FUA write through the quorum costs one leg's write plus every leg's flush.
#
# Then the same with real legs, still outside the guest device so that the
# write cache can be on: a local qcow2 (cache.direct, as libvirt's
# cache='none') and an NBD node to a scratch qcow2 exported by node2's QEMU
# (writethrough, as hasvc's backups): local, nbd, quorum [local, nbd], and
# mirror local -> nbd (sync=none, write-blocking), each with nodes of its own,
# allocated by a first pass, then timed.
#
# Asserted (loosely: the legs are fixed, the machine is not):
#   writeback:  quorum < 1.5 x one, mirror > 1.6 x one   (parallel / sequential)
# The real legs are printed only.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
LEG_MS=${EXP_LEG_MS:-5}
OPS=${BENCH_OPS:-40}

# mean_ms EXPORT [QEMU-IO OPTIONS]: mean latency of OPS 4 KiB writes into EXPORT.
mean_ms() {
	local e=$1 i args=()
	shift
	for i in $(seq 0 $((OPS - 1))); do args+=(-c "write -C $((i * 4096)) 4k"); done
	lab exec node1 qemu-io "$@" -f raw "${args[@]}" "nbd://10.77.0.11:10811/$e" |
		awk -F, -v ops="$OPS" '/^[0-9]+,1,[0-9:.]+,[0-9.]+,[0-9.]+$/ { t += 1000 / $5; n++ }
			END { if (n != ops) exit 1; printf "%.2f", t / n }' || fail "not every write into $e was reported"
}

lab up --hosts 2 --no-daemon
lab vm-create node1 $VM 64M
for n in one c d e f; do
	qmp node1 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\",\"node-name\":\"n-$n\",\"size\":67108864,\"latency-ns\":$((LEG_MS * 1000000))}}" >/dev/null
done
qmp node1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"q","vote-threshold":1,"read-pattern":"fifo","children":["n-c","n-d"]}}' >/dev/null
qmp node1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.11","port":"10811"}}}}' >/dev/null
for x in one:n-one quorum:q mirror:n-e; do
	qmp node1 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"x-${x%%:*}\",\"node-name\":\"${x#*:}\",\"name\":\"${x%%:*}\",\"writable\":true,\"writethrough\":false}}" >/dev/null
done
qmp node1 '{"execute":"blockdev-mirror","arguments":{"job-id":"m","device":"n-e","target":"n-f","sync":"none","copy-mode":"write-blocking"}}' >/dev/null
wait_for 10 "mirror READY" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[0].ready')\" = true ]"

declare -A ms
for mode in writeback writethrough; do
	opt=()
	[ $mode = writeback ] && opt=(-t writeback)
	for c in one quorum mirror; do ms[$mode.$c]=$(mean_ms $c "${opt[@]}"); done
	note "$mode, legs of $LEG_MS ms: one ${ms[$mode.one]} ms, quorum ${ms[$mode.quorum]} ms, mirror ${ms[$mode.mirror]} ms (mean of $OPS)"
done
awk -v o="${ms[writeback.one]}" -v q="${ms[writeback.quorum]}" -v m="${ms[writeback.mirror]}" 'BEGIN {
	printf "writeback: quorum / one = %.2f, mirror / one = %.2f\n", q / o, m / o
	exit !(q < 1.5 * o && m > 1.6 * o) }' || fail "writeback: the legs are no longer parallel in quorum, or sequential in the mirror"
awk -v o="${ms[writethrough.one]}" -v q="${ms[writethrough.quorum]}" -v m="${ms[writethrough.mirror]}" 'BEGIN {
	printf "writethrough (FUA): quorum / one = %.2f, mirror / one = %.2f\n", q / o, m / o }'

note "real legs: local qcow2 on node1, NBD to a qcow2 exported by node2"
lab vm-create node2 $VM 64M
scratch() { # NODE NAME: a 64 MiB qcow2 opened as node NAME (O_DIRECT)
	lab exec "$1" qemu-img create -q -f qcow2 "/var/lib/libvirt/images/$2.qcow2" 64M
	qmp "$1" "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"qcow2\",\"node-name\":\"$2\",\"file\":{\"driver\":\"file\",\"filename\":\"/var/lib/libvirt/images/$2.qcow2\",\"aio\":\"threads\"},\"cache\":{\"direct\":true}}}" >/dev/null
}
scratch node2 b
qmp node2 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.12","port":"10809"}}}}' >/dev/null
qmp node2 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"x-b","node-name":"b","name":"b","writable":true,"writethrough":true}}' >/dev/null
for n in l0 l1 l2; do scratch node1 $n; done
for n in r0 r1 r2; do
	qmp node1 "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"nbd\",\"node-name\":\"$n\",\"server\":{\"type\":\"inet\",\"host\":\"10.77.0.12\",\"port\":\"10809\"},\"export\":\"b\",\"reconnect-delay\":0}}" >/dev/null
done
qmp node1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"rq","vote-threshold":1,"read-pattern":"fifo","children":["l1","r1"]}}' >/dev/null
for x in local:l0 nbd:r0 rquorum:rq rmirror:l2; do
	qmp node1 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"x-${x%%:*}\",\"node-name\":\"${x#*:}\",\"name\":\"${x%%:*}\",\"writable\":true,\"writethrough\":false}}" >/dev/null
done
qmp node1 '{"execute":"blockdev-mirror","arguments":{"job-id":"rm","device":"l2","target":"r2","sync":"none","copy-mode":"write-blocking"}}' >/dev/null
for c in local nbd rquorum rmirror; do mean_ms $c -t writeback >/dev/null; done # allocate
for mode in writeback writethrough; do
	opt=()
	[ $mode = writeback ] && opt=(-t writeback)
	for c in local nbd rquorum rmirror; do ms[$mode.$c]=$(mean_ms $c "${opt[@]}"); done
	note "$mode, real legs: local ${ms[$mode.local]} ms, nbd ${ms[$mode.nbd]} ms, quorum ${ms[$mode.rquorum]} ms, mirror ${ms[$mode.rmirror]} ms (mean of $OPS)"
	awk -v l="${ms[$mode.local]}" -v n="${ms[$mode.nbd]}" -v q="${ms[$mode.rquorum]}" -v m="${ms[$mode.rmirror]}" -v mode=$mode 'BEGIN {
		mx = l > n ? l : n
		printf "%s, real legs: quorum / max(local, nbd) = %.2f, mirror / max = %.2f, (local + nbd) / max = %.2f\n",
			mode, q / mx, m / mx, (l + n) / mx }'
done
note "done"

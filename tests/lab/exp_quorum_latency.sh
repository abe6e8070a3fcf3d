#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_quorum_latency.sh [ROUNDS]: what a sync write costs with QEMU's quorum
# driver against the write-blocking mirror (issue 15). An experiment, not a
# test (exp_*: not run by ctest): it prints figures and asserts only that
# every configuration ran.
#
# One VM, one graph, four configurations, round after round (default 3), so
# that the machine's load changes hit them alike:
#
#   none     guest device -> quorum hs-q [local]            (the quorum node
#            passes a write straight on: the baseline)
#   mirror   the same, plus blockdev-mirror from hs-q into the backup's NBD
#            node, write-blocking, READY (what hasvc's sync mode is today)
#   quorum   hs-q [local, nbd]: one coroutine per child, done when both are
#   nbd      hs-q [nbd]: the NBD leg alone, through the same block layer
#
# Switching is x-blockdev-change on hs-q (add / delete a child), the VM
# paused; the images are not kept equal (nbd writes only the backup), this
# measures latency only. Writes are sequential, queue depth 1, through HMP
# qemu-io on the guest's block backend, each timed by qemu-io (-C):
# 4 KiB and 64 KiB x OPS, 1 MiB x OPS/4 (BENCH_OPS, default 200), on
# allocated clusters. Printed per configuration and size: mean and p50 in
# ms; then the ratios issue 15 judges: quorum mean / max(none, nbd) at 4 KiB
# and 64 KiB (goal <= 1.15) and quorum MiB/s / none MiB/s at 1 MiB.
#
# EXP_GUEST=linux boots the lab's Linux guest (its recorder slowed to a record
# every 10 s): its driver negotiates the flush feature, so the device's write
# cache is on and qemu-io's writes are plain writes, not FUA ones, as a real
# guest's are; without it (the default) the guest boots no OS and every write
# is FUA (docs/datapath-experiments.md, B2).
#
# EXP_DELAY_US=N holds the replication link's bytes N microseconds each way
# (deploy/lab repl-delay node2 N), so that the NBD leg waits as it does
# between two real hosts instead of computing on this machine's cores.
#
# EXP_BACKUP_TMPFS=1 (the default) puts the backup's image on a tmpfs, so that
# the two legs of a write do not queue on this machine's one disk; 0 keeps it
# on the disk like every other lab host.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
ROUNDS=${1:-3}
OPS=${BENCH_OPS:-200}
labdir=/var/lib/hasvc-lab/$HASVC_LAB
log1=$labdir/node1/var/log/libvirt/qemu/$VM.log
DEV=/machine/peripheral/virtio-disk0/virtio-backend
TMP=$labdir/lat
SIZES="4k:4096:$OPS:100 64k:65536:$OPS:110 1M:1048576:$((OPS / 4)):130"

q1() { qmp node1 "$1"; }
edge_of() { # NODE: hs-q's child edge name for NODE
	q1 '{"execute":"x-debug-query-block-graph"}' | jq -r --arg c "$1" '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| .edges[] | select($n[(.parent | tostring)] == "hs-q" and $n[(.child | tostring)] == $c) | .name'
}
add_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"node\":\"$1\"}}" >/dev/null; }
del_child() { q1 "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-q\",\"child\":\"$(edge_of "$1")\"}}" >/dev/null; }
jobs_n() { q1 '{"execute":"query-block-jobs"}' | jq length; }
mirror_ready() { [ "$(q1 '{"execute":"query-block-jobs"}' | jq -r '.[0].ready')" = true ]; }

# measure CONFIG: every size; appends "latency_ms bytes" per write to $TMP/CONFIG.SIZE.
measure() {
	local spec name bytes count start i n0
	for spec in $SIZES; do
		IFS=: read -r name bytes count start <<<"$spec"
		n0=$(wc -l <"$log1")
		for i in $(seq 0 $((count - 1))); do
			printf "qemu-monitor-command %s --hmp 'qemu-io -d %s \"write -C -P %d %d %d\"'\n" \
				$VM $DEV $((i % 200 + 1)) $((start * MIB + i * bytes)) "$bytes"
		done | lab exec node1 virsh -q >/dev/null
		tail -n +$((n0 + 1)) "$log1" |
			awk -F, '/^[0-9]+,1,[0-9:.]+,[0-9.]+,[0-9.]+$/ { printf "%.6f %d\n", 1000 / $5, $1 }' >"$TMP/$1.$name.new"
		[ "$(wc -l <"$TMP/$1.$name.new")" = "$count" ] || fail "$1: not every $name write was reported"
		cat "$TMP/$1.$name.new" >>"$TMP/$1.$name"
	done
}
# stats FILE: "mean_ms p50_ms MiB/s".
stats() {
	sort -n -k1,1 "$1" | awk '{ l[NR] = $1; t += $1; b += $2 }
		END { printf "%.3f %.3f %.1f\n", t / NR, l[int((NR - 1) / 2) + 1], b / 1048576 / (t / 1000) }'
}

if [ "${EXP_GUEST:-}" = linux ]; then
	export LAB_PAIR_LINUX=1 HASVC_LAB_GUEST_REC_MS=10000
fi
lab up --hosts 2 --no-daemon
if [ "${EXP_BACKUP_TMPFS:-1}" = 1 ]; then
	# node2's images on a tmpfs: a backup that does not share the primary's
	# disk, as on two real hosts (bench/write-overhead's -sep configurations).
	lab exec node2 bash -c "mkdir -p /var/lib/libvirt/images &&
		mount -t tmpfs -o size=600m exp-sep /var/lib/libvirt/images" || fail "no tmpfs for node2's images"
fi
lab_pair_domains
[ -z "${EXP_DELAY_US:-}" ] || lab repl-delay node2 "$EXP_DELAY_US"
qmp node2 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.12","port":"10809"}}}}' >/dev/null
qmp node2 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"e-vda","node-name":"libvirt-1-format","name":"vda","writable":true,"writethrough":true}}' >/dev/null
mkdir -p "$TMP"
wcache=$(q1 '{"execute":"query-block"}' | jq -r '.[0].inserted.cache.writeback')
lab exec node1 virsh qemu-monitor-command $VM --hmp "qemu-io -d $DEV \"write -P 1 100M 100M\"" >/dev/null
q1 '{"execute":"blockdev-add","arguments":{"driver":"nbd","node-name":"hs-nbd","server":{"type":"inet","host":"10.77.0.12","port":"10809"},"export":"vda","reconnect-delay":0,"open-timeout":5}}' >/dev/null
# The guest device onto hs-q [local]: through [nbd] first (the format node
# cannot have the quorum as a second writer; see test_lab_quorum_path.sh).
lab exec node1 virsh -q suspend $VM >/dev/null
q1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"hs-q","vote-threshold":1,"read-pattern":"fifo","children":["hs-nbd"]}}' >/dev/null
q1 '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/virtio-disk0/virtio-backend","property":"drive","value":"hs-q"}}' >/dev/null
add_child libvirt-1-format
del_child hs-nbd

for r in $(seq "$ROUNDS"); do
	note "round $r of $ROUNDS"
	measure none
	q1 '{"execute":"blockdev-mirror","arguments":{"job-id":"hs-vda","device":"hs-q","target":"hs-nbd","sync":"full","copy-mode":"write-blocking"}}' >/dev/null
	wait_for 120 "mirror READY" mirror_ready
	measure mirror
	q1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
	wait_for 30 "mirror gone" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq '.return | length')\" = 0 ]"
	add_child hs-nbd
	measure quorum
	del_child libvirt-1-format
	measure nbd
	add_child libvirt-1-format
	del_child hs-nbd
done

rtt=$(lab exec node1 ping -c 20 -i 0.05 -q 10.77.0.12 | awk -F/ '/^rtt/ { print $5 }')
echo
echo "write latency, $ROUNDS round(s), queue depth 1; RTT node1 -> node2 ${rtt} ms; backup on tmpfs: ${EXP_BACKUP_TMPFS:-1}; guest ${EXP_GUEST:-none}, device write cache $wcache; link delay ${EXP_DELAY_US:-0} us each way"
printf '%-8s %-5s %9s %9s %9s\n' config size mean_ms p50_ms MiB/s
declare -A mean mbs
for c in none mirror quorum nbd; do
	for s in 4k 64k 1M; do
		read -r m p t <<<"$(stats "$TMP/$c.$s")"
		mean[$c.$s]=$m
		mbs[$c.$s]=$t
		printf '%-8s %-5s %9s %9s %9s\n' "$c" "$s" "$m" "$p" "$t"
	done
done
for s in 4k 64k; do
	awk -v q="${mean[quorum.$s]}" -v m="${mean[mirror.$s]}" -v n="${mean[none.$s]}" -v b="${mean[nbd.$s]}" -v s="$s" 'BEGIN {
		mx = n > b ? n : b
		printf "%s: quorum / max(none, nbd) = %.2f (goal <= 1.15: %s); mirror / max = %.2f; (none + nbd) / max = %.2f\n",
			s, q / mx, q / mx <= 1.15 ? "met" : "missed", m / mx, (n + b) / mx }'
done
awk -v q="${mbs[quorum.1M]}" -v m="${mbs[mirror.1M]}" -v n="${mbs[none.1M]}" 'BEGIN {
	printf "1M: none / quorum throughput = %.2f (goal <= 1.3: %s); none / mirror = %.2f\n",
		n / q, n / q <= 1.3 ? "met" : "missed", n / m }'

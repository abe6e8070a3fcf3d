#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_quorum_swap.sh [ROUNDS]: the second design for a fresh NBD connection
# at once after the replication link heals (the first, a raw node reopened
# onto a new NBD node, is refused by QEMU 10.0: exp_nbd_swap.sh, A7).
# An experiment, not a test (exp_*: not run by ctest); docs/datapath-experiments.md
# A8 has the answer and the figures.
#
# The design tried: the job's target a quorum node hs-tq-vda (vote-threshold
# 1) whose one child is the NBD node; after the heal, blockdev-add a new NBD
# node (it connects at once), x-blockdev-change adds it as a second child and
# removes the old one, blockdev-del the old one, block-job-resume. Against it,
# today's way: probe the port, shut down the connect in SYN_SENT, resume until
# READY. Both with the same outage: replication link cut (deploy/lab repl),
# the established connection shut down, block-job-pause, W = 4 MiB written,
# 3 s more of cut (the connect thread in SYN backoff), heal.
# Plain NBD (the lab's NBD TLS is not used by these hand-made nodes).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

ROUNDS=${1:-3}
source "$(dirname "$0")/lib_exp_swap.sh"
GEN=1
# quorum_children: the child edges of hs-tq-vda, "children.N=NODE ..."
quorum_children() {
	qmp node1 '{"execute":"x-debug-query-block-graph"}' | jq -r '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == "hs-tq-vda") | "\(.name)=\($n[(.child | tostring)])"] | join(" ")'
}
child_edge() { quorum_children | tr ' ' '\n' | sed -n "s/=$1\$//p"; }
# the swap: a new NBD node added as the quorum's second child, the old one
# removed and deleted, resume until READY.
swap_way() {
	until port_answers; do sleep 0.1; done
	local probe=$(($(now_ms) - T0)) old=hs-nbd-vda-$GEN new=hs-nbd-vda-$((GEN + 1)) t1 t2 r1 r2 edge
	add_nbd node1 "$new" "$B" 2
	t1=$(($(now_ms) - T0))
	r1=$(raw_qmp "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-tq-vda\",\"node\":\"$new\"}}")
	edge=$(child_edge "$old")
	r2=$(raw_qmp "{\"execute\":\"x-blockdev-change\",\"arguments\":{\"parent\":\"hs-tq-vda\",\"child\":\"$edge\"}}")
	t2=$(($(now_ms) - T0))
	jq -e 'has("return")' >/dev/null <<<"$r1" || fail "adding $new refused: $r1"
	jq -e 'has("return")' >/dev/null <<<"$r2" || fail "removing $old ($edge) refused: $r2"
	qmp node1 "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"$old\"}}" >/dev/null
	GEN=$((GEN + 1))
	resume_until_ready_fast
	note "swap: port answers +$probe ms, $new added +$t1 ms, swapped +$t2 ms, READY +$(($(now_ms) - T0)) ms; children $(quorum_children)"
	echo $(($(now_ms) - T0)) >>"$labdir/swap.ms"
}
# until QEMU accepts it), the old node deleted, resume until READY.

lab up --hosts 2 --no-daemon
lab_pair_domains
export_disk node2 $B 10809
QPID=$(lab exec node1 cat /run/libvirt/qemu/$VM.pid)

note "1. write latency, target the NBD node itself (today)"
add_nbd node1 hs-nbd-vda $B 2
mirror node1 hs-nbd-vda full
wait_for 60 "hs-vda READY" job_ready node1
writes 0 4 >/dev/null
direct=$(writes 0 16)
qmp node1 '{"execute":"block-job-cancel","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 20 "hs-vda gone" bash -c "[ -z \"\$($LAB_CMD exec node1 virsh qemu-monitor-command $VM '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[].device')\" ]"
qmp node1 '{"execute":"blockdev-del","arguments":{"node-name":"hs-nbd-vda"}}' >/dev/null

note "2. the target a quorum node over the NBD node"
add_nbd node1 hs-nbd-vda-1 $B 2
qmp node1 '{"execute":"blockdev-add","arguments":{"driver":"quorum","node-name":"hs-tq-vda","vote-threshold":1,"read-pattern":"fifo","children":["hs-nbd-vda-1"]}}' >/dev/null
mirror node1 hs-tq-vda full
wait_for 60 "hs-vda READY" job_ready node1
writes 0 4 >/dev/null
viaq=$(writes 0 16)
note "1 MiB write ms, NBD target: $direct(median $(median <<<"$direct"))"
note "1 MiB write ms, quorum over NBD: $viaq(median $(median <<<"$viaq"))"

note "3. swap with the link up, the job READY and paused (resumed after the swap)"
GEN=1
qmp node1 '{"execute":"block-job-pause","arguments":{"device":"hs-vda"}}' >/dev/null
T0=$(now_ms)
swap_way
timed_write virtio-disk0 20 >/dev/null
job_ready node1 || fail "the job is not READY after the swap: $(qmp node1 '{"execute":"query-block-jobs"}')"

note "4. outages: today's way and the swap, $ROUNDS rounds each, W = 4 MiB"
rm -f "$labdir/current.ms" "$labdir/swap.ms"
for _ in $(seq "$ROUNDS"); do
	outage
	current_way
	outage
	swap_way
done
note "heal -> READY ms, current: $(tr '\n' ' ' <"$labdir/current.ms")(median $(median <"$labdir/current.ms"))"
note "heal -> READY ms, swap:    $(tr '\n' ' ' <"$labdir/swap.ms")(median $(median <"$labdir/swap.ms"))"
note "done"

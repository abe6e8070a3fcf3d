#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_nbd_swap.sh [ROUNDS]: can the qmp engine's mirror get a fresh NBD
# connection at once after its replication link heals, instead of waiting for
# the NBD node's own reconnect (QEMU 10.0 nbd/client-connection.c: after the
# connect stuck in SYN backoff is shut down, the connect thread sleeps 1 s)?
# An experiment, not a test (exp_*: not run by ctest); docs/datapath-experiments.md
# A7 has the answer and the figures.
#
# The design tried: the job's target a raw node hs-tgt-vda over the NBD node;
# after the heal, blockdev-add a new NBD node, blockdev-reopen hs-tgt-vda with
# file = the new node, blockdev-del the old one, block-job-resume. Against it,
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
# the swap: a new NBD node, reopen of hs-tgt-vda onto it (retried every 0.1 s
# until QEMU accepts it), the old node deleted, resume until READY.
swap_way() {
	until port_answers; do sleep 0.1; done
	local probe=$(($(now_ms) - T0)) old=hs-nbd-vda-$GEN new=hs-nbd-vda-$((GEN + 1)) t1 t2 tries=0 first="" r n=0
	add_nbd node1 "$new" "$B" 2
	t1=$(($(now_ms) - T0))
	while :; do
		tries=$((tries + 1))
		r=$(raw_qmp "{\"execute\":\"blockdev-reopen\",\"arguments\":{\"options\":[{\"driver\":\"raw\",\"node-name\":\"hs-tgt-vda\",\"file\":\"$new\"}]}}")
		[ -n "$first" ] || first=$r
		jq -e 'has("return")' >/dev/null <<<"$r" && break
		[ "$tries" -lt 300 ] || fail "reopen refused for 30 s: $r"
		# what unsticks the old node's flush: today's SYN_SENT shutdown (once)
		[ "$tries" != 1 ] || n=$(synsent_shutdown)
		sleep 0.1
	done
	t2=$(($(now_ms) - T0))
	qmp node1 "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"$old\"}}" >/dev/null
	GEN=$((GEN + 1))
	resume_until_ready_fast
	note "swap: port answers +$probe ms ($n SYN_SENT shut down after the first refusal), $new added +$t1 ms, reopen accepted +$t2 ms after $tries tries (first answer: $first), READY +$(($(now_ms) - T0)) ms"
	echo $(($(now_ms) - T0)) >>"$labdir/swap.ms"
}

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

note "2. the target a raw node over the NBD node"
add_nbd node1 hs-nbd-vda-1 $B 2
qmp node1 '{"execute":"blockdev-add","arguments":{"driver":"raw","node-name":"hs-tgt-vda","file":"hs-nbd-vda-1"}}' >/dev/null
mirror node1 hs-tgt-vda full
wait_for 60 "hs-vda READY" job_ready node1
writes 0 4 >/dev/null
viaraw=$(writes 0 16)
note "1 MiB write ms, NBD target: $direct(median $(median <<<"$direct"))"
note "1 MiB write ms, raw over NBD: $viaraw(median $(median <<<"$viaraw"))"

note "3. reopen onto a new node with the link up, the job running and READY"
add_nbd node1 hs-nbd-vda-2 $B 2
t=$(now_ms)
note "reopen (running): $(raw_qmp '{"execute":"blockdev-reopen","arguments":{"options":[{"driver":"raw","node-name":"hs-tgt-vda","file":"hs-nbd-vda-2"}]}}') in $(($(now_ms) - t)) ms"
note "blockdev-del of the old node: $(raw_qmp '{"execute":"blockdev-del","arguments":{"node-name":"hs-nbd-vda-1"}}')"
timed_write virtio-disk0 20 >/dev/null
job_ready node1 || fail "the job is not READY after the swap: $(qmp node1 '{"execute":"query-block-jobs"}')"
note "job $(job node1 status), actively-synced $(job node1 actively-synced)"
GEN=2
qmp node1 '{"execute":"block-job-pause","arguments":{"device":"hs-vda"}}' >/dev/null
add_nbd node1 hs-nbd-vda-3 $B 2
note "reopen (paused, link up): $(raw_qmp '{"execute":"blockdev-reopen","arguments":{"options":[{"driver":"raw","node-name":"hs-tgt-vda","file":"hs-nbd-vda-3"}]}}')"
qmp node1 '{"execute":"blockdev-del","arguments":{"node-name":"hs-nbd-vda-2"}}' >/dev/null
GEN=3
qmp node1 '{"execute":"block-job-resume","arguments":{"device":"hs-vda"}}' >/dev/null
wait_for 10 "hs-vda READY" job_ready node1

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

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
VM=vm1
MIB=1048576
labdir=/var/lib/hasvc-lab/$HASVC_LAB
B=10.77.0.12

# timed_write DEV OFFSET_MIB: one 1 MiB write on node1 through the guest's block
# layer; its ms as qemu-io measured it (-C line in the domain log).
timed_write() {
	local log=$labdir/node1/var/log/libvirt/qemu/$VM.log n0
	n0=$(wc -l <"$log")
	lab exec node1 virsh qemu-monitor-command "$VM" --hmp \
		"qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend \"write -C -P $(($2 & 0xff)) $(($2 * MIB)) 1M\"" >/dev/null
	tail -n +$((n0 + 1)) "$log" | awk -F, '/^[0-9]+,1,[0-9:.]+,[0-9.]+,[0-9.]+$/ { printf "%d\n", 1000 / $5; exit }'
}
writes() { # FIRST COUNT: the ms of each
	local i out=""
	for i in $(seq "$1" $(($1 + $2 - 1))); do out+="$(timed_write virtio-disk0 "$i") "; done
	echo "$out"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# raw_qmp JSON: node1's whole reply (error or not), compact.
raw_qmp() { lab exec node1 virsh qemu-monitor-command "$VM" "$1" | jq -c 'del(.id)'; }
port_answers() { lab exec node1 timeout 0.5 bash -c "exec 3<>/dev/tcp/$B/10809" 2>/dev/null; }
# synsent_shutdown: shutdown(2) of QEMU's connects to the backup still in SYN_SENT
# (what mirror/mirror_sockets.c does before a resume): sock_shutdown.py with
# the state it selects changed from ESTABLISHED (01) to SYN_SENT (02).
synsent_shutdown() {
	lab exec node1 python3 - "$SRC/tests/lab" "$QPID" "$B" 10809 <<'PY'
import socket, struct, sys, types
# sock_shutdown.py runs main() when loaded: load it without its last line.
src = open(sys.argv.pop(1) + "/sock_shutdown.py").read().rsplit("main()", 1)[0]
sock_shutdown = types.ModuleType("sock_shutdown")
exec(src, sock_shutdown.__dict__)
def syn_sent(pid, host, port):
    want, found = (socket.inet_aton(host), port), set()
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            x = line.split()
            rh, rp = x[2].split(":")
            if (struct.pack("<I", int(rh, 16)), int(rp, 16)) == want and x[3] == "02":
                found.add(x[9])
    return found
sock_shutdown.remote_inodes = syn_sent
sock_shutdown.main()
PY
}
resume_until_ready_fast() { # resume every 0.25 s until READY, at most 30 s
	local i
	for i in $(seq 120); do
		qmp node1 '{"execute":"block-job-resume","arguments":{"device":"hs-vda"}}' >/dev/null 2>&1 || true
		sleep 0.25
		job_ready node1 && return 0
	done
	fail "not READY 30 s after the heal: $(qmp node1 '{"execute":"query-block-jobs"}')"
}
# outage: the cut as hasvc sees it, W = 4 MiB dirtied, the connect left in SYN backoff.
outage() {
	lab repl node2 cut >/dev/null
	lab exec node1 python3 "$SRC/tests/lab/sock_shutdown.py" "$QPID" "$B" 10809 >/dev/null
	qmp node1 '{"execute":"block-job-pause","arguments":{"device":"hs-vda"}}' >/dev/null 2>&1 || true
	writes 100 4 >/dev/null
	sleep 3
	[ "$(owed node1)" = $((4 * MIB)) ] || fail "the job owes $(owed node1) bytes for 4 MiB written"
	lab repl node2 heal >/dev/null
	T0=$(now_ms)
}
# today's way: probe every 0.1 s; once the port answers, SYN_SENT shut down, resume until READY.
current_way() {
	until port_answers; do sleep 0.1; done
	local probe=$(($(now_ms) - T0)) n
	n=$(synsent_shutdown)
	resume_until_ready_fast
	note "current: port answers +$probe ms, $n SYN_SENT shut down, READY +$(($(now_ms) - T0)) ms"
	echo $(($(now_ms) - T0)) >>"$labdir/current.ms"
}
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

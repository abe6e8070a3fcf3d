# SPDX-License-Identifier: LGPL-2.1-or-later
#
# lib_exp_swap.sh: what the two NBD-swap experiments share (exp_nbd_swap.sh,
# exp_quorum_swap.sh, docs/datapath-experiments.md A7 and A8): timed writes,
# the outage, and today's way back to compare a swap against. Sourced after
# lib.sh and lib_qmp.sh; sets VM, MIB, labdir, B.
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

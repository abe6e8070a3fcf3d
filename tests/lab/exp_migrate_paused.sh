#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# exp_migrate_paused.sh [ROUNDS]: what libvirt's VIR_MIGRATE_PAUSED costs the
# guest, without hasvc. An experiment, not a test (exp_*: not run by ctest):
# it prints figures and asserts only that every migration ran.
#
# The lab's Linux guest (a record every 50 ms, docs/lab-guest.md) migrates
# node1 <-> node2 as hasvcd's live switchover migrates it (p2p, --unsafe:
# the disk is not copied, --persistent, TLS), ROUNDS times back and forth
# (default 2), each move once with --suspend and an immediate `virsh resume`
# on the target (hasvc's road: VIR_MIGRATE_PAUSED, then resume) and once
# without (libvirt resumes the guest in its Finish phase). The target's
# image is an empty one of the same size: the figures are the guest's
# pause, not its data. Per move: how long the call took, when the source
# QEMU began to shut down (its log) and was gone (its pid, polled through
# lab exec: ~50 ms late), libvirt's downtime, and the guest-visible pause
# (the largest step between records' host stamps).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_guest.sh"

ROUNDS=${1:-2}
LAB_DIR=/var/lib/hasvc-lab/$HASVC_LAB
QLOG=var/log/libvirt/qemu/vm1.console.log

lab up --hosts 2 --no-daemon
HASVC_LAB_GUEST_REC_MS=50 lab vm-create node1 vm1 64M --linux
lab exec node2 mkdir -p /var/lib/libvirt/images
lab exec node2 qemu-img create -q -f qcow2 /var/lib/libvirt/images/vm1.qcow2 64M
stamp_start "$LAB_DIR/stamps" "$LAB_DIR/node1/$QLOG" "$LAB_DIR/node2/$QLOG"
sleep 2

# move FROM TO [--suspend]
move() {
	local from=$1 to=$2 how=${3:-} addr pid poller t0 t1 t2 down stop gone step
	addr=10.77.0.1${to#node} # the lab's cluster address of the host (deploy/lab's CL_NET)
	pid=$(lab exec "$from" cat /run/libvirt/qemu/vm1.pid)
	rm -f "$LAB_DIR/gone"
	(while lab exec "$from" kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
	 now_ms >"$LAB_DIR/gone") &
	poller=$!
	t0=$(now_ms)
	lab exec "$from" virsh -q migrate --live --p2p --unsafe --persistent --tls $how vm1 \
		"qemu+tls://$addr/system?pkipath=/etc/hasvc/pki/libvirt" --migrateuri "tcp://$addr" ||
		fail "migrate $from -> $to $how"
	t1=$(now_ms)
	[ -z "$how" ] || lab exec "$to" virsh -q resume vm1
	t2=$(now_ms)
	wait "$poller"
	sleep 2
	down=$(lab exec "$to" virsh domjobinfo vm1 --completed | sed -n 's/^Total downtime: *\([0-9]*\).*/\1/p')
	stop=$(grep -a 'shutting down, reason=migrated' "$LAB_DIR/$from/var/log/libvirt/qemu/vm1.log" | tail -1 | cut -c1-23)
	stop=$(($(date -d "$stop" +%s%3N) - t0))
	gone=$(($(cat "$LAB_DIR/gone") - t0))
	step=$(awk -v a="$t0" '{ t = substr($1, 9) + 0 } t >= a { if (n++ && t - p > m) m = t - p; p = t } END { print m + 0 }' "$LAB_DIR/stamps")
	printf '  %s -> %s %-9s  call %5d ms  source stopping +%5d, gone +%5d ms  resume %3d ms  libvirt downtime %4s ms  guest still %5d ms\n' \
		"$from" "$to" "${how:-(none)}" $((t1 - t0)) "$stop" "$gone" $((t2 - t1)) "$down" "$step"
}
for _ in $(seq "$ROUNDS"); do
	move node1 node2 --suspend
	move node2 node1 --suspend
	move node1 node2
	move node2 node1
done
stamp_stop
note "done"

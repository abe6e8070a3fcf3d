#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 15, parallel sync writes: what a primary hasvcd that was away can
# still vouch for (docs/mirror.md, Vouching). A write the backup's child
# fails is acknowledged from the local disk and QEMU says so once
# (QUORUM_REPORT_BAD): while node1's hasvcd is down nobody hears it.
#
#   1. node1's hasvcd away while the guest writes, the backup answering:
#      back, it vouches for the child (its socket never ended), the pair
#      never leaves in-sync, the child is the same node;
#   2. node1's hasvcd away while the backup refuses the writes (node2's
#      image filesystem full: ENOSPC): node2's QEMU traces the error replies,
#      node2's hasvcd shuts its server's connections, and node1's hasvcd,
#      back, cannot vouch: the pair degrades with that reason and resyncs
#      (or, when QEMU's throttled last QUORUM_REPORT_BAD of the burst reaches
#      it once back, degrades for that failed write: never vouched for);
#   3. in sync again, every block of both steps is on the backup.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
IMAGES=/var/lib/libvirt/images

children() {
	qmp node1 '{"execute":"x-debug-query-block-graph"}' | jq -r '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == "hs-g-vda") | $n[(.child | tostring)]
		   | select(startswith("hs-s-"))] | join(" ")'
}
on_quorum() { [[ $(children) == hs-s-* ]]; }
# on_backup FIRST LAST: write_blocks' blocks FIRST..LAST on node2's export
on_backup() {
	local i port
	port=$(pair_field node1 vm1 nbd_port)
	for i in $(seq "$1" "$2"); do
		nbd_io node1 10.77.0.12 "$port" -r -c "read -P $((i & 0xff)) $((64 + i))M 1M" >/dev/null 2>&1 || return 1
	done
}
refused_on_node2() { [ "$(lab exec node2 grep -c 'answered a write with an error' /var/log/hasvc/hasvcd.log || true)" -gt 0 ]; }

export HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp HASVC_SYNC_WRITES=parallel"
lab up --hosts 3
wait_for 30 "quorum" quorate node1
# node2's images on a small filesystem of their own, to fill in step 2
lab exec node2 bash -c "mkdir -p $IMAGES && mount -t tmpfs -o size=200m lab-refuse $IMAGES"
lab vm-create node1 vm1 128M
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync >/dev/null
wait_for 120 "vm1 in-sync" pair_state_is node1 vm1 in-sync
wait_for 30 "vm1's disk on its quorum" on_quorum
child=$(children)
note "vm1 writes both disks at once: hs-g-vda [$child]"

note "1. node1's hasvcd away while the guest writes"
lab stop-daemon node1
write_blocks node1 vm1 1 4
lab start-daemon node1
wait_for 60 "node1's hasvcd back and synced" synced node1
sleep 10 # past the vouch's settling (5 s) and a poll
[ "$(event_count node1 "in-sync -> degraded")" = 0 ] ||
	fail "the restart dropped the protection: $(lab exec node1 hasvc events | grep -- "-> degraded")"
[ "$(children)" = "$child" ] || fail "the quorum child changed: [$(children)], was [$child]"
pair_state_is node1 vm1 in-sync || fail "vm1 is $(pair_field node1 vm1 state)"
note "vouched for: still in sync, the same child"

note "2. node1's hasvcd away while node2's disk is full"
lab exec node2 bash -c "dd if=/dev/zero of=$IMAGES/filler bs=1M 2>/dev/null || true"
lab exec node2 df -h "$IMAGES" | tail -1
lab stop-daemon node1
write_blocks node1 vm1 30 33
wait_for 30 "node2's hasvcd saw its QEMU refuse a write" refused_on_node2
lab exec node2 grep 'answered a write with an error' /var/log/hasvc/hasvcd.log | tail -1
lab exec node2 rm -f "$IMAGES/filler"
# QEMU sends the first QUORUM_REPORT_BAD of a child at once and holds the
# rest of a burst for up to 1 s (monitor.c's event throttle, keyed by
# node-name): past that, the last one too went by while nobody listened.
sleep 2
lab start-daemon node1
wait_for 60 "vm1 degraded: not vouched for" event_count_above node1 "in-sync -> degraded" 0
reason=$(lab exec node1 hasvc events | grep -- "-> degraded" | tail -1)
note "$reason"
# A delayed event heard after all (a loaded machine's late timer) degrades
# the pair for the failed write itself: also not vouched for, and the
# control (no shutdown on node2) degrades for neither and fails above.
[[ $reason == *"cannot vouch"* || $reason == *"a write or flush to it failed"* ]] ||
	fail "degraded, but not for the unvouched child: $reason"
wait_for 120 "vm1 in-sync again" pair_state_is node1 vm1 in-sync
copy=$(pair_json node1 vm1 | jq -r '.copy.kind + " / " + (.copy.reason // "")')
note "the copy: $copy"
[[ $copy == delta* ]] || fail "the resync was '$copy', not a delta"

note "3. every block on the backup"
on_backup 1 4 || fail "a block of step 1 is not on the backup"
on_backup 30 33 || fail "a block refused in step 2 is not on the backup after the resync"
! on_backup 40 40 || fail "on_backup cannot fail?"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The backup host is lost while the primary writes in sync mode (issues 4, 6).
#   1. node2 crashes: its kernel resets the NBD connection, the block job
#      fails, the pair goes degraded and is re-protected onto node3.
#   2. node3 is cut off (a silent peer: no reset, TCP would retry for
#      minutes): the write in flight completes soon after corosync notices,
#      because the mirror is cut (connections closed, jobs aborted); the pair
#      shows degraded with the reason; after the heal it resyncs onto node3.
# (Without quorum the primary would keep waiting: a minority must not let its
# backup fall behind silently, since the majority may promote that backup.)
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync
write_blocks node1 vm1 1 8

note "crash node2 (the backup), then write on node1"
lab crash node2
t0=$(now_ms)
write_blocks node1 vm1 9 9
note "first write after the crash acknowledged in $(($(now_ms) - t0)) ms"
wait_for 30 "degraded or re-protecting" bash -c "s=\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r .state); [ \$s != in-sync ]"
t1=$(now_ms)
write_blocks node1 vm1 10 16
note "7 more writes in $(($(now_ms) - t1)) ms; events:"
lab exec node1 hasvc events | grep "vm1:" | tail -4
event_count_above node1 "in-sync -> degraded" 0 || fail "no transition to degraded"
[ "$(pair_field node1 vm1 primary)" = node1 ] || fail "vm1 moved: $(pair_field node1 vm1 primary)"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1"

note "re-protected onto node3 with every block"
wait_for 120 "vm1 in-sync on node3" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .backup')\" = in-sync/node3 ]"
port=$(pair_field node1 vm1 nbd_port)
for i in 1 9 16; do
	nbd_io node3 10.77.0.13 "$port" -r -c "read -P $i $((64 + i))M 1M" >/dev/null ||
		fail "block $i missing on the new backup"
done
note "node2 returns (quorum without node3 needs it)"
lab boot node2
wait_for 60 "node2 online" node_online node1 node2

note "cut node3's link while a write is in flight"
lab partition node3
t0=$(now_ms)
write_blocks node1 vm1 17 17
waited=$(($(now_ms) - t0))
note "write acknowledged $waited ms after the link was cut"
[ "$waited" -lt 20000 ] || fail "the write waited on the silent backup for $waited ms"
# Either way names node3: the membership's backup-lost, or the mirror's end
# when that comes first (the job can end as the host leaves the ring).
degraded_naming_node3() {
	event_count_above node1 "in-sync -> degraded (backup-lost): node3" 0 ||
		lab exec node1 hasvc events --json | jq -e '[.events[] | select(.message |
			test("in-sync -> degraded \\(mirror-failed\\): .*\\(backup on node3\\)"))] | length > 0' >/dev/null
}
wait_for 30 "vm1 degraded, naming node3" degraded_naming_node3
lab exec node1 hasvc events | grep "vm1:" | tail -3
# node1 closed its connection to node3's export, or (the job ended first) none
# is left open: either way no write of the guest can wait on the silent host.
lab exec node1 grep -E "[1-9][0-9]* connection\(s\) to 10.77.0.13:$port closed" /var/log/hasvc/hasvcd.log ||
	[ -z "$(lab exec node1 ss -Htn state established dst "10.77.0.13:$port")" ] ||
	fail "node1 keeps vm1's connection to node3's export: $(lab exec node1 ss -Htn dst "10.77.0.13:$port")"
[ "$(pair_field node1 vm1 primary)" = node1 ] || fail "vm1 moved: $(pair_field node1 vm1 primary)"
write_blocks node1 vm1 18 20

note "heal node3: vm1 is protected again (node2 or node3) with every block"
lab heal node3
wait_for 180 "vm1 in-sync" pair_state_is node1 vm1 in-sync
backup=$(pair_field node1 vm1 backup)
port=$(pair_field node1 vm1 nbd_port)
note "backup now on $backup"
for i in 1 9 16 17 18 20; do
	nbd_io "$backup" "10.77.0.1${backup#node}" "$port" -r -c "read -P $i $((64 + i))M 1M" \
		>/dev/null || fail "block $i missing on $backup"
done
note "PASS"

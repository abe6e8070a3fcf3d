#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A live switchover that cannot move the guest (issue 14): node2 refuses
# QEMU's migration stream (its ports reset in node2's own namespace, as a
# firewall of the backup host would). Without --allow-cold the guest stays
# where it ran, never restarted, the backup is put back and the pair is in
# sync again, and the events say why. With --allow-cold the same failure goes
# on as a cold switchover once the pair is in sync again: the guest restarts
# on node2, as asked.
source "$(dirname "$0")/lib.sh"

HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp" lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120
write_blocks node1 vm1 1 4

qemu_pid() { lab exec "$1" cat /run/libvirt/qemu/vm1.pid 2>/dev/null || echo -; }
state_primary() { pair_json node3 vm1 | jq -r '.state + "/" + .primary + "/" + (.operation.op // "-")'; }
# libvirt's migration ports on node2 (migration_port_min..max), reset
lab exec node2 iptables -I INPUT -p tcp --dport 49152:49215 -j REJECT --reject-with tcp-reset

note "--live alone: the migration fails, the guest stays on node1, never restarted"
pid0=$(qemu_pid node1)
lab exec node3 hasvc switchover vm1 --live --no-wait
wait_for 60 "the failed migration in the events" event_count_above node3 "live switchover of vm1 to node2 failed" 0
wait_for 120 "vm1 in sync on node1 again, the operation over" bash -c "[ \"\$($LAB_CMD exec node3 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary + \"/\" + (.operation.op // \"-\")')\" = in-sync/node1/- ]"
[ "$(qemu_pid node1)" = "$pid0" ] || fail "vm1's QEMU on node1 changed ($pid0 -> $(qemu_pid node1)): the guest restarted"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) on node1"
domstate_is node2 vm1 paused || fail "vm1 is $(domstate node2 vm1) on node2 (should be the paused backup again)"
[ "$(event_count node3 "(primary-stopped)")" -eq 0 ] || fail "a live switchover without --allow-cold stopped the guest"
lab exec node3 hasvc events | grep "live switchover of vm1 to node2 failed" | tail -1
write_blocks node1 vm1 5 8
verify_blocks node1 vm1 1 8

note "--live --allow-cold: the same failure, then a cold switchover once in sync again"
lab exec node3 hasvc switchover vm1 --live --allow-cold --no-wait
wait_for 180 "vm1 in sync on node2" bash -c "[ \"\$($LAB_CMD exec node3 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/node2 ]"
[ "$(event_count node3 "live switchover of vm1 to node2 failed")" -ge 2 ] ||
	fail "the second switchover did not try live first"
[ "$(event_count node3 "a cold switchover, as asked (--allow-cold)")" -eq 1 ] ||
	fail "no cold switchover after the failed live one"
[ "$(event_count node3 "(primary-stopped)")" -eq 1 ] || fail "the cold switchover did not stop the guest once"
domstate_is node2 vm1 running || fail "vm1 is $(domstate node2 vm1) on node2"
verify_blocks node2 vm1 1 8
lab exec node2 iptables -D INPUT -p tcp --dport 49152:49215 -j REJECT --reject-with tcp-reset
note "PASS"

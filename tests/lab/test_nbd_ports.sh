#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every backup on a host gets an NBD port of its own, also when the proposals
# come faster than they are applied (found by bench/scale):
#   - a burst of creates from one host onto one backup host (--no-wait, back
#     to back);
#   - one coordinator round re-protecting several pairs onto the same host:
#     vm1 and vm2 run on node3 with their backups on node1; node1 crashes;
#     both degrade and are re-protected onto node2 together.
# Before the fix both of vm1/vm2 were handed the same port: the second backup
# failed with "Failed to find an available port" (reprotect-failed).
#   - something else already listens on the first NBD port of the backup host:
#     the backup is exported on the next free port, and that is recorded;
#   - two hosts create pairs onto one backup host at the same moment: each
#     proposer guesses a port from its own copy of the state (the same one),
#     the backup host chooses (before, the second backup failed to prepare).
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
for vm in vm1 vm2 vm3 vm4; do lab vm-create node3 "$vm" 16M; done
lab vm-create node1 vm5 16M
lab vm-create node3 vm6 16M

# A process that is not hasvc's holds node1's first NBD port (10809); it lives
# in node1's namespaces, so `lab down` stops it too if the test fails.
squat_img=/var/lib/hasvc-lab/$HASVC_LAB/squat.raw
qemu-img create -q -f raw "$squat_img" 1M
squat=$(lab exec node1 bash -c "qemu-nbd --persistent --bind 10.77.0.11 --port 10809 -f raw \
	'$squat_img' </dev/null >/dev/null 2>&1 & echo \$!")
wait_for 10 "qemu-nbd listening on node1:10809" lab exec node1 bash -c "ss -Hltn 'sport = :10809' | grep -q ."

note "burst: four creates from node3, back to back, without waiting"
lab exec node3 hasvc pair create vm1 --backup node1 --no-wait
lab exec node3 hasvc pair create vm2 --backup node1 --no-wait
lab exec node3 hasvc pair create vm3 --backup node2 --no-wait
lab exec node3 hasvc pair create vm4 --backup node2 --no-wait
for vm in vm1 vm2 vm3 vm4; do wait_for 120 "$vm in-sync" pair_state_is node3 "$vm" in-sync; done
ports() { # NODE: the NBD ports of NODE's backups, one a line
	lab exec node3 hasvc pair list --json | jq -r --arg n "$1" '.pairs[] | select(.backup == $n) | .nbd_port'
}
[ "$(ports node1 | sort -u | wc -l)" = 2 ] || fail "node1's backups share a port: $(ports node1 | tr '\n' ' ')"
[ "$(ports node2 | sort -u | wc -l)" = 2 ] || fail "node2's backups share a port: $(ports node2 | tr '\n' ' ')"
ports node1 | grep -qx 10809 && fail "a backup on node1 claims port 10809, which qemu-nbd holds"
lab exec node3 hasvc events | contains "exported on 10.77.0.11:10810" ||
	fail "no backup on node1 was exported on the next port, 10810"
kill "$squat"

note "two hosts create pairs onto node2 at the same moment"
lab exec node1 hasvc pair create vm5 --backup node2 --no-wait &
first=$!
lab exec node3 hasvc pair create vm6 --backup node2 --no-wait
wait "$first" || fail "pair create vm5 from node1 failed"
for vm in vm5 vm6; do wait_for 120 "$vm in-sync" pair_state_is node3 "$vm" in-sync; done
[ "$(ports node2 | sort -u | wc -l)" = 4 ] || fail "node2's backups share a port: $(ports node2 | tr '\n' ' ')"
n=$(event_count node3 "prepare-failed")
[ "$n" = 0 ] || fail "$n backup(s) failed to prepare"
for vm in vm5 vm6; do lab exec node3 hasvc pair delete "$vm" --wait --timeout 60; done

note "crash node1: vm1 and vm2 are re-protected onto node2 in one round"
lab crash node1
backed_on_node2() { [ "$(pair_field node3 "$1" state) $(pair_field node3 "$1" backup)" = "in-sync node2" ]; }
for vm in vm1 vm2; do wait_for 120 "$vm in-sync with its backup on node2" backed_on_node2 "$vm"; done
[ "$(ports node2 | sort -u | wc -l)" = 4 ] || fail "node2's backups share a port: $(ports node2 | tr '\n' ' ')"
n=$(event_count node3 "reprotect-failed")
[ "$n" = 0 ] || fail "$n re-protection(s) failed: $(lab exec node3 hasvc events --json |
	jq -c '[.events[] | select(.message | contains("reprotect-failed")) | .message]')"
note "ports on node2: $(ports node2 | sort -n | tr '\n' ' ')"

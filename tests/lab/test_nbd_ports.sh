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
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
for vm in vm1 vm2 vm3 vm4; do lab vm-create node3 "$vm" 16M; done

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

note "crash node1: vm1 and vm2 are re-protected onto node2 in one round"
lab crash node1
backed_on_node2() { [ "$(pair_field node3 "$1" state) $(pair_field node3 "$1" backup)" = "in-sync node2" ]; }
for vm in vm1 vm2; do wait_for 120 "$vm in-sync with its backup on node2" backed_on_node2 "$vm"; done
[ "$(ports node2 | sort -u | wc -l)" = 4 ] || fail "node2's backups share a port: $(ports node2 | tr '\n' ' ')"
n=$(event_count node3 "reprotect-failed")
[ "$n" = 0 ] || fail "$n re-protection(s) failed: $(lab exec node3 hasvc events --json |
	jq -c '[.events[] | select(.message | contains("reprotect-failed")) | .message]')"
note "ports on node2: $(ports node2 | sort -n | tr '\n' ' ')"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Maintenance mode (issue 6): node1 runs vm1..vm3, backed up on node2.
# `hasvc node maintenance node1 on --wait` switches every one of them over;
# none is placed back on node1 while it is in maintenance (new backups go to
# node3, a pair create with --backup node1 is refused). Off again: node1
# takes backups.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
for vm in vm1 vm2 vm3; do
	lab vm-create node1 $vm 128M
	lab exec node1 hasvc pair create $vm --backup node2 --wait --timeout 120
done
write_blocks node1 vm2 1 4

note "bad input: maintenance of an unknown node"
set +e
out=$(lab exec node1 hasvc node maintenance node9 on 2>&1); rc=$?
set -e
[ $rc -eq 4 ] || fail "unknown node: rc $rc: $out"

note "node1 enters maintenance"
t0=$(now_ms)
lab exec node3 hasvc node maintenance node1 on --wait --timeout 180
note "node1 emptied in $(($(now_ms) - t0)) ms"
[ "$(node_state node3 node1)" = maintenance ] || fail "node1 is $(node_state node3 node1)"
for vm in vm1 vm2 vm3; do
	[ "$(pair_field node3 $vm primary)" = node2 ] || fail "$vm still on $(pair_field node3 $vm primary)"
	domstate_is node2 $vm running || fail "$vm is $(domstate node2 $vm) on node2"
	domstate_is node1 $vm running && fail "$vm still runs on node1"
	wait_for 120 "$vm protected again" pair_state_is node3 $vm in-sync
	[ "$(pair_field node3 $vm backup)" = node3 ] || fail "$vm backed up on $(pair_field node3 $vm backup), not node3"
done
verify_blocks node2 vm2 1 4

note "node1 takes no new backups in maintenance"
lab vm-create node2 vm4 128M
set +e
out=$(lab exec node2 hasvc pair create vm4 --backup node1 2>&1); rc=$?
set -e
[ $rc -eq 7 ] && echo "$out" | contains "maintenance" || fail "backup on a host in maintenance: rc $rc: $out"

note "node1 leaves maintenance and takes backups again"
lab exec node3 hasvc node maintenance node1 off
[ "$(node_state node3 node1)" = online ] || fail "node1 is $(node_state node3 node1)"
lab exec node2 hasvc pair create vm4 --backup node1 --wait --timeout 120
domstate_is node1 vm4 paused || fail "vm4's backup on node1 is $(domstate node1 vm4)"
note "PASS"

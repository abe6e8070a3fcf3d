#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The coordinator dies in the middle of a failover (issue 3): vm1 runs on
# node2 with its backup on node3; node2 crashes; while node1 (the
# coordinator) is fencing it, node1's hasvcd is killed. node3 becomes the
# coordinator, finishes the fence from the replicated state and promotes
# vm1 -- exactly once.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node2 vm1 128M
lab exec node2 hasvc pair create vm1 --backup node3 --wait --timeout 120
write_blocks node2 vm1 1 8
[ "$(status_json node3 | jq -r .cluster.coordinator)" = node1 ] || fail "node1 is not the coordinator"

note "crash node2; kill node1's hasvcd as soon as the failover started"
lab crash node2
wait_for 30 "vm1 fencing" pair_state_is node3 vm1 fencing
kill -KILL "$(lab exec node1 cat /run/hasvcd.lab.pid)"
note "node1's hasvcd killed while vm1 is $(pair_field node3 vm1 state)"
wait_for 20 "node3 coordinator" bash -c "[ \"\$($LAB_CMD exec node3 hasvc status --json | jq -r .cluster.coordinator)\" = node3 ]"

wait_for 60 "vm1 running on node3" domstate_is node3 vm1 running
[ "$(pair_field node3 vm1 primary)" = node3 ] || fail "vm1's primary is $(pair_field node3 vm1 primary)"
[ "$(event_count node3 "promoting -> unprotected")" -eq 1 ] || fail "vm1 promoted $(event_count node3 "promoting -> unprotected") times"
[ "$(event_count node3 "fencing -> promoting")" -eq 1 ] || fail "more than one fenced transition"
lab exec node3 hasvc events --json | jq -e '.events[] | select(.node == "node3" and .kind == "fence")' >/dev/null ||
	fail "node3 did not take the fence over"
verify_blocks node3 vm1 1 8

note "node1's hasvcd returns and agrees"
lab restart-daemon node1
wait_for 30 "node1 back" node_online node3 node1
wait_for 30 "equal digests" digests_equal node1 node3
note "PASS"

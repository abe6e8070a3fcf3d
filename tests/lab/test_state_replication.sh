#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Replicated state on the real cluster (issue 3): every node holds the same
# state (equal digests); a daemon killed with SIGKILL, and a host that
# crashed, catch up after they return; a partitioned host has no quorum and
# its writes are refused with a clear error, and it converges after the heal.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
all="node1 node2 node3"
for n in $all; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "equal digests on every node" digests_equal $all
wait_for 10 "node rows recorded" bash -c "[ \$(\"$LAB_CMD\" exec node3 hasvc events --json | jq '.events | length') -ge 3 ]"
note "digest $(digest node1)"

note "SIGKILL hasvcd on node2; change state meanwhile; restart it"
pid=$(lab exec node2 cat /run/hasvcd.lab.pid)
kill -KILL "$pid"
wait_for 15 "node2 offline for node1" node_offline node1 node2
before=$(status_json node1 | jq -r .state.version)
wait_for 10 "node1 recorded node2 offline" event_count_above node1 "node node2 is offline" 0
lab restart-daemon node2
wait_for 30 "node2 back" node_online node1 node2
wait_for 20 "equal digests after node2 restart" digests_equal $all
after=$(status_json node2 | jq -r .state.version)
[ "$after" -gt "$before" ] || fail "node2's version $after did not pass $before"
lab exec node2 hasvc events | grep -q "node node2 is offline" || fail "node2 missed what happened while it was down"

note "crash node2 (power loss), change state, boot it"
seen=$(event_count node1 "node node2 is offline")
lab crash node2
wait_for 15 "node1 recorded node2 offline" event_count_above node1 "node node2 is offline" "$seen"
lab boot node2
wait_for 30 "node2 back after boot" node_online node1 node2
wait_for 20 "equal digests after node2 boot" digests_equal $all

note "partition node1: no quorum, writes refused; majority continues"
lab partition node1
wait_for 15 "node1 without quorum" not_quorate node1
set +e
out=$(lab exec node1 hasvc fence node3 2>&1)
rc=$?
set -e
[ $rc -eq 6 ] || fail "a write without quorum exited $rc, want 6 (no quorum): $out"
echo "$out" | grep -q "no quorum" || fail "refusal does not say why: $out"
wait_for 15 "node2 records node1 offline" event_count_above node2 "node node1 is offline" 0
[ "$(event_count node1 "node node1 is offline")" -eq 0 ] || fail "the minority wrote to the cluster state"
lab heal node1
wait_for 30 "node1 back" node_online node2 node1
wait_for 30 "equal digests after heal" digests_equal $all
note "PASS"

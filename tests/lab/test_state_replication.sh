#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Replicated state on the real cluster (issue 3): every node holds the same
# state (equal digests); a daemon killed with SIGKILL, and a host that
# crashed, catch up after they return; a partitioned host has no quorum and
# its writes are refused with a clear error, and it converges after the heal.
# A pair created on node1 is seen alike everywhere.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
all="node1 node2 node3"
for n in $all; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "equal digests on every node" digests_equal $all
wait_for 10 "node rows recorded" bash -c "[ \$(\"$LAB_CMD\" exec node3 hasvc events --json | jq '.events | length') -ge 3 ]"
note "digest $(digest node1)"

note "a pair created on node1 is visible on node2 and node3, digests equal"
lab vm-create node1 vm1 128M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120
for n in node2 node3; do
	[ "$(pair_field $n vm1 primary)/$(pair_field $n vm1 backup)/$(pair_field $n vm1 state)" = node1/node2/in-sync ] ||
		fail "$n sees $(pair_json $n vm1 | jq -c '{primary, backup, state}')"
done
wait_for 20 "equal digests with the pair" digests_equal $all

note "SIGKILL hasvcd on node2; change state meanwhile; restart it"
# node2's own version when it dies: everything node1 writes while node2 is
# down (at least the offline record) must reach node2 after its restart.
before=$(status_json node2 | jq -r .state.version)
pid=$(lab exec node2 cat /run/hasvcd.lab.pid)
kill -KILL "$pid"
wait_for 15 "node2 offline for node1" node_offline node1 node2
wait_for 10 "node1 recorded node2 offline" event_count_above node1 "node node2 is offline" 0
lab restart-daemon node2
wait_for 30 "node2 back" node_online node1 node2
wait_for 20 "equal digests after node2 restart" digests_equal $all
after=$(status_json node2 | jq -r .state.version)
[ "$after" -gt "$before" ] || fail "node2's version $after did not pass $before"
lab exec node2 hasvc events | contains "node node2 is offline" || fail "node2 missed what happened while it was down"

note "crash node2 (power loss), change state, boot it"
seen=$(event_count node1 "node node2 is offline")
lab crash node2
wait_for 15 "node1 recorded node2 offline" event_count_above node1 "node node2 is offline" "$seen"
lab boot node2
wait_for 30 "node2 back after boot" node_online node1 node2
wait_for 20 "equal digests after node2 boot" digests_equal $all

# node3 runs no primary, so the majority does not fence it (with-primaries).
note "partition node3: no quorum, writes refused; majority continues"
lab partition node3
wait_for 15 "node3 without quorum" not_quorate node3
set +e
out=$(lab exec node3 hasvc fence node1 2>&1)
rc=$?
set -e
[ $rc -eq 6 ] || fail "a write without quorum exited $rc, want 6 (no quorum): $out"
echo "$out" | contains "no quorum" || fail "refusal does not say why: $out"
set +e
out=$(lab exec node3 hasvc pair delete vm1 2>&1)
rc=$?
set -e
[ $rc -eq 6 ] || fail "a pair change without quorum exited $rc, want 6: $out"
wait_for 15 "node1 records node3 offline" event_count_above node1 "node node3 is offline" 0
[ "$(event_count node3 "node node3 is offline")" -eq 0 ] || fail "the minority wrote to the cluster state"
lab heal node3
wait_for 30 "node3 back" node_online node1 node3
wait_for 30 "equal digests after heal" digests_equal $all
pair_json node3 vm1 >/dev/null || fail "the pair is gone"
note "PASS"

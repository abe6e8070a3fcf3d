#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The pair state machine is enforced where transitions are applied, on every
# host alike (issue 12): a replicated pair_update whose edge is not in the
# table (in-sync -> creating on mirror-ready), or that changes the state
# without naming its event, is refused by every host's apply. It is injected
# through node1's test hook (POST /v1/test/propose, test_hooks = yes), as a
# buggy or hostile proposer would send it; the pair stays in-sync at the same
# generation everywhere, and the digests stay equal.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
lab exec node1 sed -i '/^\[daemon\]/a test_hooks = yes' /etc/hasvc/hasvc.conf
lab restart-daemon node1
wait_for 30 "node1 back and synced" digests_equal node1 node2 node3
lab vm-create node1 vm1 >/dev/null
lab exec node1 hasvc pair create vm1 --backup node2 --timeout 120 >/dev/null
pair_state_is node1 vm1 in-sync || fail "vm1 not in sync"
gen=$(pair_field node1 vm1 generation)

post() {
	lab exec node1 curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/hasvc/hasvcd.sock \
		-X POST --data-binary "$1" http://hasvc/v1/test/propose
}
refusals() { lab exec "$1" grep -c "$2" /var/log/hasvc/hasvcd.log || true; }

note "a pair_update along an edge the table does not have"
before=$(refusals node3 'is not an edge of the pair state machine')
[ "$(post "{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\",\"expect_state\":\"in-sync\",\"expect_generation\":$gen,\"state\":\"creating\",\"pair_event\":\"mirror-ready\"}")" = 202 ] ||
	fail "the test hook did not propose the change"
for n in node1 node2 node3; do
	wait_for 20 "$n refusing the edge" bash -c "[ \$('$LAB_CMD' exec $n grep -c 'refused on every node: .*pair .vm1.: in-sync -> creating (mirror-ready) is not an edge of the pair state machine' /var/log/hasvc/hasvcd.log || true) -gt 0 ]"
done

note "a state change without its event"
[ "$(post "{\"v\":2,\"type\":\"pair_update\",\"time\":1,\"vm\":\"vm1\",\"expect_state\":\"in-sync\",\"expect_generation\":$gen,\"state\":\"degraded\"}")" = 202 ] ||
	fail "the test hook did not propose the change"
for n in node1 node2 node3; do
	wait_for 20 "$n refusing the change without an event" bash -c "[ \$('$LAB_CMD' exec $n grep -c 'pair_update from nodeid 1 refused on every node: .*pair_event' /var/log/hasvc/hasvcd.log || true) -gt 0 ]"
done

for n in node1 node2 node3; do
	[ "$(pair_field "$n" vm1 state)" = in-sync ] || fail "vm1 is $(pair_field "$n" vm1 state) on $n"
	[ "$(pair_field "$n" vm1 generation)" = "$gen" ] || fail "vm1's generation moved on $n"
done
wait_for 20 "equal digests" digests_equal node1 node2 node3
[ "$(refusals node3 'is not an edge of the pair state machine')" -gt "$before" ] || fail "no refusal logged"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A cluster of mixed state protocols (issue 12: one host upgraded first) on
# the real cluster: node3's hasvcd is restarted announcing another change
# protocol (the test hook HASVC_TEST_STATE_PROTOCOL, as a host of another
# version would). It must refuse to join, say so in its log, and refuse
# writes; node1 and node2 report it and go on writing; back on the cluster's
# protocol, node3 joins and catches up.
source "$(dirname "$0")/lib.sh"

log_has() { lab exec "$1" grep -q -- "$2" /var/log/hasvc/hasvcd.log; }

lab up --hosts 3
all="node1 node2 node3"
for n in $all; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "equal digests on every node" digests_equal $all
lab vm-create node1 vm1 128M
lab vm-create node3 vm3 128M

note "restart node3's hasvcd announcing state protocol 99"
pid=$(lab exec node3 cat /run/hasvcd.lab.pid)
kill -KILL "$pid"
wait_for 15 "node1 sees node3's hasvcd gone" node_offline node1 node3
lab exec node3 bash -c 'HASVC_TEST_STATE_PROTOCOL=99 hasvcd -f -c /etc/hasvc/hasvc.conf </dev/null \
	>>/var/log/hasvc/hasvcd.log 2>&1 & echo $! >/run/hasvcd.lab.pid'
wait_for 30 "node3 says it does not join" log_has node3 "state protocol 99 here, cluster speaks 2: not joining"
wait_for 10 "node1 reports node3" log_has node1 "node 3 speaks state protocol 99"
log_has node2 "node 3 speaks state protocol 99" || fail "node2 did not report node3"
synced node3 && fail "node3 says its state is synced"
synced node1 || fail "node1 is not synced"

note "writes through node3 are refused"
before=$(digest node3)
set +e
out=$(lab exec node3 hasvc pair create vm3 --backup node1 --no-wait 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "a pair create through node3 was accepted: $out"
note "node3 refused it (exit $rc): $out"
sleep 2
pair_gone node1 vm3 || fail "node3's refused pair reached the cluster"

note "node1 and node2 go on writing; node3 does not apply what they write"
lab exec node1 hasvc pair create vm1 --backup node2 --no-wait
wait_for 20 "vm1 on node2" pair_json node2 vm1
wait_for 20 "equal digests on node1 and node2" digests_equal node1 node2
pair_gone node3 vm1 || fail "node3 applied a change of a cluster it did not join"
[ "$(digest node3)" = "$before" ] || fail "node3's state changed while it was not joined"

note "node3 back on the cluster's protocol: it joins and catches up"
lab restart-daemon node3
wait_for 30 "node3 synced" synced node3
wait_for 30 "equal digests on every node" digests_equal $all
pair_json node3 vm1 >/dev/null || fail "node3 did not catch up"
note "PASS"

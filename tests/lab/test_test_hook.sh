#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The test hook POST /v1/test/propose (docs/api.md): absent unless hasvc.conf
# says test_hooks = yes, never on TCP; where it is, a change message in its
# body is proposed verbatim and applied on every host (here an event, which
# node3 then shows), and a body that is no change message is refused by
# every host's apply alike, leaving the digests equal.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "state synced" digests_equal node1 node2 node3

# post NODE BODY: the HTTP status of POST /v1/test/propose on NODE's unix socket
post() {
	lab exec "$1" curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/hasvc/hasvcd.sock \
		-X POST --data-binary "$2" http://hasvc/v1/test/propose
}
event='{"v":2,"type":"event","time":1,"node":"node1","kind":"test","message":"hello from the test hook"}'

[ "$(post node1 "$event")" = 404 ] || fail "the hook answers without test_hooks = yes"

note "node1 with test_hooks = yes"
lab exec node1 sed -i '/^\[daemon\]/a test_hooks = yes' /etc/hasvc/hasvc.conf
lab restart-daemon node1
wait_for 30 "node1's hasvcd back" digests_equal node1 node2 node3
wait_for 30 "node2 sees node1" node_online node2 node1

status=$(lab exec node2 curl -s -o /dev/null -w '%{http_code}' -X POST \
	--cacert "/var/lib/hasvc-lab/$HASVC_LAB/pki/ca-cert.pem" \
	-H "Authorization: Bearer lab-admin-token" --data-binary "$event" \
	https://10.77.0.11:7480/v1/test/propose)
[ "$status" = 404 ] || fail "the hook answers on TCP: HTTP $status"
[ "$(post node2 "$event")" = 404 ] || fail "node2 has no test_hooks and answers"

[ "$(post node1 "$event")" = 202 ] || fail "the hook did not take the event"
wait_for 20 "the event on node3" event_count_above node3 "hello from the test hook" 0
[ "$(event_count node3 "hello from the test hook")" = 1 ] || fail "the event was applied twice"

[ "$(post node1 '{"v":2,"type":"no-such-change","time":1}')" = 202 ] ||
	fail "the hook refused to propose"
sleep 1
wait_for 20 "digests equal after a refused change" digests_equal node1 node2 node3
[ "$(post node1 '')" = 400 ] || fail "an empty body was proposed"
note "ok"

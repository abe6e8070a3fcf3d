#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The HTTP API on a lab host: the TCP listener wants a token, a read token may
# not write, and a list of bad requests each get the right 4xx JSON error
# while nothing changes (the state digest stays the same). Metrics and the
# dashboard page are served.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "state synced" digests_equal node1 node2 node3
sleep 1 # let the coordinator's membership records settle
wait_for 20 "state synced" digests_equal node1 node2 node3
before=$(digest node1)
# HTTPS, node1's certificate from the lab CA (deploy/lab)
url=https://10.77.0.11:7480
CA=(--cacert "/var/lib/hasvc-lab/$HASVC_LAB/pki/ca-cert.pem")

# req EXPECTED_STATUS EXPECTED_ERROR CURL_ARGS...: one request from node2 to node1's TCP API.
req() {
	local want=$1 error=$2 out status
	shift 2
	out=$(lab exec node2 curl "${CA[@]}" -s -o /dev/stdout -w '\n%{http_code}' "$@")
	status=$(tail -1 <<<"$out")
	body=$(sed '$d' <<<"$out")
	[ "$status" = "$want" ] || fail "$* -> HTTP $status, want $want: $body"
	if [ -n "$error" ]; then
		[ "$(jq -r .error <<<"$body")" = "$error" ] || fail "$* -> error '$(jq -r .error <<<"$body")', want $error"
		[ "$(jq -r .schema <<<"$body")" = 1 ] || fail "$* -> no schema in $body"
		[ -n "$(jq -r .message <<<"$body")" ] || fail "$* -> no message"
	fi
	note "ok: $want ${error:-} ($*)"
}
R=(-H "Authorization: Bearer lab-read-token")
A=(-H "Authorization: Bearer lab-admin-token")

req 401 unauthorized "$url/v1/status"
req 401 unauthorized -H "Authorization: Bearer wrong" "$url/v1/status"
req 401 unauthorized -H "Authorization: Basic lab-read-token" "$url/v1/status"
req 200 "" "${R[@]}" "$url/v1/status"
req 403 forbidden "${R[@]}" -X POST "$url/v1/nodes/node3/fence"
req 404 not_found "${R[@]}" "$url/v1/nosuch"
req 405 method_not_allowed "${R[@]}" -X DELETE "$url/v1/status"
req 400 bad_name "${R[@]}" "$url/v1/pairs/..%2Fetc"
req 400 bad_name "${R[@]}" "$url/v1/pairs/a%20b"
req 404 not_found "${R[@]}" "$url/v1/pairs/vm9"
req 400 bad_query "${R[@]}" "$url/v1/events?since=-1"
req 400 bad_query "${R[@]}" "$url/v1/events?limit=abc"
head -c 70000 /dev/zero | tr '\0' 'x' >"/var/lib/hasvc-lab/$HASVC_LAB/big"
req 413 too_large "${A[@]}" -X POST --data-binary "@/var/lib/hasvc-lab/$HASVC_LAB/big" "$url/v1/nodes/node3/fence"
req 404 not_found "${A[@]}" -X POST "$url/v1/nodes/node9/fence"
req 409 refused "${A[@]}" -X POST "$url/v1/nodes/node1/fence"
req 404 not_found "${A[@]}" -X POST "$url/v1/nodes/node3/reboot"
# Bodies that are not exactly what the endpoint takes change nothing: 400, field named.
# bad_body FIELD CURL_ARGS...: a 400 bad_request whose "field" is FIELD ("" for none).
bad_body() {
	local field=$1
	shift
	req 400 bad_request "$@"
	[ "$(jq -r '.field // ""' <<<"$body")" = "$field" ] || fail "$* -> field '$(jq -r .field <<<"$body")', want '$field'"
}
J=(-H "Content-Type: application/json")
bad_body bakup "${A[@]}" "${J[@]}" -d '{"vm":"vm1","bakup":"node2"}' "$url/v1/pairs"
bad_body vm "${A[@]}" "${J[@]}" -d '{"vm":["vm1"],"backup":"node2"}' "$url/v1/pairs"
bad_body bandwidth_mib "${A[@]}" "${J[@]}" -d '{"vm":"vm1","backup":"node2","bandwidth_mib":"50"}' "$url/v1/pairs"
bad_body backup "${A[@]}" "${J[@]}" -d '{"vm":"vm1","backup":null}' "$url/v1/pairs"
bad_body backup "${A[@]}" "${J[@]}" -d '{"vm":"vm1"}' "$url/v1/pairs"
bad_body "" "${A[@]}" "${J[@]}" -d '{"vm":"vm1",' "$url/v1/pairs"
bad_body "" "${A[@]}" "${J[@]}" -d '{"vm":"vm1","backup":"node2"} trailing' "$url/v1/pairs"
bad_body "" "${A[@]}" "${J[@]}" -d '["vm1","node2"]' "$url/v1/pairs"
bad_body on "${A[@]}" "${J[@]}" -d '{"on":"yes"}' "$url/v1/nodes/node3/maintenance"
bad_body force "${A[@]}" "${J[@]}" -d '{"on":true,"force":true}' "$url/v1/nodes/node3/maintenance"
bad_body "" "${A[@]}" "${J[@]}" -d 'on' "$url/v1/nodes/node3/maintenance"
bad_body now "${A[@]}" "${J[@]}" -d '{"now":true}' "$url/v1/nodes/node3/fence"
bad_body force "${A[@]}" "${J[@]}" -d '{"force":true}' "$url/v1/pairs/vm1/switchover"
bad_body live "${A[@]}" "${J[@]}" -d '{"live":"yes"}' "$url/v1/pairs/vm1/switchover"
bad_body "" "${A[@]}" "${J[@]}" -d '{"allow_cold":true}' "$url/v1/pairs/vm1/switchover"
bad_body force "${A[@]}" "${J[@]}" -X DELETE -d '{"force":true}' "$url/v1/pairs/vm1"
bad_body verbose "${A[@]}" "${J[@]}" -d '{"verbose":1}' "$url/v1/fence/check"
req 401 unauthorized "$url/v1/status?token=lab-read-token"
req 401 unauthorized "$url/v1/events/stream?token=wrong"
req 400 bad_query "${R[@]}" -H "Last-Event-ID: x" "$url/v1/events/stream"
req 200 "" "$url/"
lab exec node2 curl "${CA[@]}" -sf "$url/" | contains "<title>hasvc</title>" || fail "dashboard page not served"
req 200 "" "${R[@]}" "$url/metrics"
lab exec node2 curl "${CA[@]}" -sf "${R[@]}" "$url/metrics" | contains '^hasvc_node_up{node="node3"} 1$' || fail "metrics lack node3 up"
lab exec node2 curl "${CA[@]}" -sf "${R[@]}" "$url/metrics" | promtool check metrics || fail "promtool rejects /metrics"

lab exec node3 true
[ "$(lab exec node3 hasvc status --json | jq -r .cluster.quorate)" = true ] || fail "node3 lost quorum"
wait_for 10 "unchanged state" digests_equal node1 node2 node3
[ "$(digest node1)" = "$before" ] || fail "bad requests changed the cluster state"
# The event stream, read the way a browser's EventSource does (token in the
# URL, Last-Event-ID on reconnect): an event caused now arrives on it.
dir=/var/lib/hasvc-lab/$HASVC_LAB
since=$(lab exec node2 curl "${CA[@]}" -sf "${R[@]}" "$url/v1/events?limit=10000" | jq '[.events[].id] | max // 0')
lab exec node2 curl "${CA[@]}" -sN --max-time 17 "$url/v1/events/stream?since=999999999&token=lab-read-token" >"$dir/quiet" 2>/dev/null &
quiet_pid=$!
lab exec node2 curl "${CA[@]}" -sN --max-time 12 -D "$dir/stream-headers" "$url/v1/events/stream?since=$since&token=lab-read-token" >"$dir/stream" 2>/dev/null &
stream_pid=$!
# ... and `hasvc events --follow`, the CLI's reader of the same stream (unix socket)
lab exec node3 timeout 12 hasvc events --follow --since "$since" >"$dir/follow" 2>&1 &
follow_pid=$!
sleep 1
lab exec node1 hasvc node maintenance node3 on >/dev/null
lab exec node1 hasvc node maintenance node3 off >/dev/null
wait_for 10 "maintenance events on the stream" grep -q '^data: .*node node3 leaves maintenance' "$dir/stream"
grep -qi '^content-type: text/event-stream' "$dir/stream-headers" || fail "stream not text/event-stream: $(cat "$dir/stream-headers")"
on_id=$(grep -B2 '^data: .*node node3 enters maintenance' "$dir/stream" | sed -n 's/^id: //p' | head -1)
[ -n "$on_id" ] && [ "$on_id" -gt "$since" ] || fail "no id before the maintenance event: $(cat "$dir/stream")"
grep -q '^event: maintenance$' "$dir/stream" || fail "no 'event: maintenance' line: $(cat "$dir/stream")"
note "ok: event $on_id (maintenance on) arrived on the stream"
# A reconnecting client gets what came after its Last-Event-ID, and only that.
lab exec node2 curl "${CA[@]}" -sN --max-time 2 "${R[@]}" -H "Last-Event-ID: $on_id" "$url/v1/events/stream?since=0" >"$dir/replay" 2>/dev/null || true
grep -q '^data: .*node node3 leaves maintenance' "$dir/replay" || fail "Last-Event-ID replay lacks the later event: $(cat "$dir/replay")"
! grep -q "^id: $on_id$" "$dir/replay" || fail "Last-Event-ID replay repeats event $on_id"
note "ok: Last-Event-ID $on_id replays what followed"
wait "$stream_pid" || true
wait "$follow_pid" || true
grep -qE '^ +[0-9]+ .* maintenance +node node3 enters maintenance' "$dir/follow" ||
	fail "hasvc events --follow did not print the maintenance event: $(cat "$dir/follow")"
note "ok: hasvc events --follow printed the event as it happened"
wait "$quiet_pid" || true
grep -q '^: keep-alive$' "$dir/quiet" || fail "no keep-alive in 17 s of a quiet stream: $(cat "$dir/quiet")"
note "ok: keep-alive on a quiet stream"
note "PASS"

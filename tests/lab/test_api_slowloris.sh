#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Slow and greedy clients of the TCP API (issue 16, "Found already"): they
# must not take the API from everyone else.
#  1. Slowloris: node2 (10.77.0.12) keeps 130 slow connections open to node1's
#     TCP API (a request line, then a header every 2 s, never the end), opening
#     each again as soon as it is closed. node1's API takes 16 of them
#     (http_client_connections) and closes each 10 s after it was accepted
#     (the request deadline; one header every 2 s would never trip an idle
#     timeout). Meanwhile an authenticated request from another address
#     (node1's 10.77.0.11) is answered, and `hasvc status` on the unix
#     socket is. After the flood node2 connects again.
#  2. The unix socket is a listener of its own: with http_client_connections
#     = 128 on node1 the same flood fills all of TCP's 128 slots, and
#     `hasvc status` still answers at once.
#  3. Event streams: 16 streams from node2 and 16 from node1's 10.78.0.11
#     fill TCP's 32 slots; a 33rd (from 10.77.0.11) is 503 busy, while
#     `hasvc events --follow` on the unix socket is served (its own slots).
#     node2's client then dies (its sockets just close): its slots are free
#     again within a second or so (a stream sees its closed socket at the
#     next 500 ms wake), measured and printed.
source "$(dirname "$0")/lib.sh"

lab up --hosts 2
for n in node1 node2; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "state synced" digests_equal node1 node2

dir=/var/lib/hasvc-lab/$HASVC_LAB
ca=$dir/pki/ca-cert.pem
api=10.77.0.11:7480
url=https://$api
clients=$SRC/tests/lab/api_clients.py
R=(-H "Authorization: Bearer lab-read-token")

# code NODE CURL_ARGS...: the HTTP status NODE got from node1's API ("000": none in 10 s)
code() {
	local node=$1
	shift
	lab exec "$node" curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" --max-time 10 "$@" || true
}
# status FILE KEY: a field of an api_clients.py status file
status() { jq -r ".$2" "$1" 2>/dev/null; }
at_least() { [ "$(status "$1" "$2")" -ge "$3" ] 2>/dev/null; }
# unix_status NODE: `hasvc status` on NODE answers within 5 s
unix_status() { lab exec "$1" timeout 5 hasvc status >/dev/null; }

# flood FILE SECONDS: node2's 130 slow clients to node1's API, in the background
flood() {
	rm -f "$1"
	lab exec node2 python3 "$clients" slow --connect "$api" --ca "$ca" --count 130 \
		--interval 2 --seconds "$2" --status "$1" >/dev/null &
	flood_pid=$!
}

note "1. slowloris: node2 keeps 130 slow connections to node1's API for 35 s"
flood "$dir/slow" 35
wait_for 20 "the flood holding connections" at_least "$dir/slow" max_open 16
for i in 1 2 3 4 5; do
	t0=$(now_ms)
	c=$(code node1 "${R[@]}" "$url/v1/status")
	[ "$c" = 200 ] || fail "during the flood, GET /v1/status from 10.77.0.11 got '$c' (flood: $(cat "$dir/slow"))"
	t1=$(now_ms)
	unix_status node1 || fail "during the flood, hasvc status on node1's unix socket did not answer"
	note "ok: during the flood: 200 from 10.77.0.11 in $((t1 - t0)) ms, hasvc status in $(($(now_ms) - t1)) ms"
	sleep 4
done
wait "$flood_pid" || true
s=$(cat "$dir/slow")
note "the flood: $s"
[ "$(status "$dir/slow" max_open)" -le 16 ] || fail "node2 held more than 16 connections: $s"
[ "$(status "$dir/slow" refused)" -gt 0 ] || fail "none of node2's 130 connections was refused: $s"
[ "$(status "$dir/slow" cut)" -ge 16 ] || fail "node2's slow connections were not closed: $s"
awk -v lo="$(status "$dir/slow" cut_after_min)" -v hi="$(status "$dir/slow" cut_after_max)" \
	'BEGIN { exit !(lo >= 9 && hi <= 12.5) }' ||
	fail "slow connections not closed 10 s after their accept: $s"
note "ok: node2 held at most $(status "$dir/slow" max_open), each closed after" \
	"$(status "$dir/slow" cut_after_min)-$(status "$dir/slow" cut_after_max) s"
# A few of the flood's last connections may linger (closed by node2, not yet
# seen by MHD) until the deadline takes them: 10 s at most.
t0=$(now_ms)
served_node2() { [ "$(code node2 "${R[@]}" "$url/v1/status")" = 200 ]; }
wait_for 15 "node2 served again after the flood" served_node2
note "ok: after the flood node2's requests are answered again ($(($(now_ms) - t0)) ms after it ended)"

note "2. with http_client_connections = 128 the flood fills TCP's 128 slots; the unix socket answers"
lab exec node1 sed -i '/^\[daemon\]/a http_client_connections = 128' /etc/hasvc/hasvc.conf
lab restart-daemon node1
wait_for 30 "node1's hasvcd back" digests_equal node1 node2
flood "$dir/full" 25
wait_for 20 "TCP's 128 slots taken" at_least "$dir/full" max_open 128
for i in 1 2 3; do
	t0=$(now_ms)
	unix_status node1 || fail "with TCP full, hasvc status on the unix socket did not answer"
	note "ok: with $(status "$dir/full" open) TCP connections held, hasvc status in $(($(now_ms) - t0)) ms"
	sleep 2
done
wait "$flood_pid" || true
note "the flood: $(cat "$dir/full")"
lab exec node1 sed -i '/^http_client_connections = 128$/d' /etc/hasvc/hasvc.conf
lab restart-daemon node1
wait_for 30 "node1's hasvcd back" digests_equal node1 node2

note "3. event streams: 16 from node2 and 16 from 10.78.0.11 take TCP's 32 slots"
lab exec node2 python3 "$clients" streams --connect "$api" --ca "$ca" --count 16 --seconds 12 \
	--status "$dir/streams2" >/dev/null &
s2_pid=$!
lab exec node1 python3 "$clients" streams --connect "$api" --ca "$ca" --count 16 --seconds 20 \
	--bind 10.78.0.11 --status "$dir/streams1" >/dev/null &
s1_pid=$!
wait_for 20 "node2's streams asked for" at_least "$dir/streams2" ok 0
wait_for 20 "10.78.0.11's streams asked for" at_least "$dir/streams1" ok 0
[ "$(status "$dir/streams2" ok)" = 16 ] && [ "$(status "$dir/streams1" ok)" = 16 ] ||
	fail "32 streams not all open: node2 $(cat "$dir/streams2"), 10.78.0.11 $(cat "$dir/streams1")"
c=$(code node1 -N --max-time 3 "$url/v1/events/stream?token=lab-read-token")
[ "$c" = 503 ] || fail "a 33rd stream on TCP got '$c', want 503"
note "ok: TCP's 32 stream slots taken, the 33rd is 503"
rc=0
out=$(lab exec node1 timeout 3 hasvc events --follow 2>&1) || rc=$?
[ "$rc" = 124 ] || fail "hasvc events --follow on the unix socket ended (exit $rc): $out"
note "ok: hasvc events --follow on the unix socket is served (its own slots)"

note "node2's stream client dies; how soon are its slots free?"
wait_for 20 "node2's client gone" at_least "$dir/streams2" exit_ms 1
exit_ms=$(status "$dir/streams2" exit_ms)
while :; do
	t=$(now_ms)
	[ "$(code node1 -N --max-time 1 "$url/v1/events/stream?token=lab-read-token")" = 200 ] && break
	[ $((t - exit_ms)) -lt 10000 ] || fail "10 s after node2's client died its stream slots are still taken"
	sleep 0.1
done
freed=$((t - exit_ms))
note "ok: a stream slot was free again ${freed} ms after node2's client died (the first request sent after that many ms was served)"
[ "$freed" -lt 3000 ] || fail "a dead client's stream slot freed only after $freed ms"
wait "$s2_pid" "$s1_pid" 2>/dev/null || true
note "PASS"

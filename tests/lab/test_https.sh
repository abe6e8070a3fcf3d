#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# HTTPS on the TCP API (issue 18 part 6): with the lab CA curl gets its
# answers and the tokens are enforced as over plain HTTP (none: 401, a read
# token on a write: 403); without the CA curl refuses the certificate; plain
# http:// to the HTTPS port gets no answer. A configuration with http_listen
# but no certificate, a certificate file that is missing, an expired
# certificate: hasvcd refuses to start and names the key or the file. With
# http_plain = yes on one host that host serves plain HTTP and logs a warning.
source "$(dirname "$0")/lib.sh"

lab up --hosts 2
for n in node1 node2; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "state synced" digests_equal node1 node2

dir=/var/lib/hasvc-lab/$HASVC_LAB
ca=$dir/pki/ca-cert.pem
R=(-H "Authorization: Bearer lab-read-token")

# code NODE CURL_ARGS...: the HTTP status curl saw from NODE ("000": none)
code() {
	local node=$1
	shift
	lab exec "$node" curl -s -o /dev/null -w '%{http_code}' "$@" || true
}

note "with the lab CA: answers, tokens enforced"
[ "$(code node2 --cacert "$ca" "${R[@]}" https://10.77.0.11:7480/v1/status)" = 200 ] ||
	fail "GET /v1/status over HTTPS with a read token is not 200"
[ "$(code node2 --cacert "$ca" https://10.77.0.11:7480/v1/status)" = 401 ] ||
	fail "no token over HTTPS is not 401"
[ "$(code node2 --cacert "$ca" "${R[@]}" -X POST https://10.77.0.11:7480/v1/nodes/node2/fence)" = 403 ] ||
	fail "a read token's write over HTTPS is not 403"
lab exec node2 curl -sf --cacert "$ca" "${R[@]}" https://10.77.0.11:7480/v1/status |
	jq -e '.cluster.quorate == true' >/dev/null || fail "the status over HTTPS is not the cluster's"

note "without the CA: the certificate is refused"
rc=0
lab exec node2 curl -s -o /dev/null "${R[@]}" https://10.77.0.11:7480/v1/status 2>/dev/null || rc=$?
[ "$rc" = 60 ] || fail "curl without the lab CA: exit $rc, want 60 (certificate verify failed)"
# and the certificate is node1's own: node2's name in the URL does not match it
rc=0
lab exec node2 curl -s -o /dev/null --cacert "$ca" --connect-to node2:7480:10.77.0.11:7480 \
	"${R[@]}" https://node2:7480/v1/status 2>/dev/null || rc=$?
[ "$rc" = 60 ] || fail "node1's certificate taken for node2: exit $rc, want 60"

note "plain http:// to the HTTPS port gets no answer"
status=$(code node2 --max-time 10 "${R[@]}" http://10.77.0.11:7480/v1/status)
[ "$status" = 000 ] || fail "plain HTTP to the HTTPS port answered HTTP $status"
# the unix socket stays plain
[ "$(code node1 --unix-socket /run/hasvc/hasvcd.sock http://hasvc/v1/status)" = 200 ] ||
	fail "the unix socket does not answer plain HTTP"

# startup_error CONF_TEXT_SED WANT: node2's hasvcd, run by hand on a copy of
# its configuration edited by the sed script, must exit and say WANT.
startup_error() {
	local script=$1 want=$2 out rc=0
	lab exec node2 bash -c "sed -e '$script' /etc/hasvc/hasvc.conf >/etc/hasvc/bad.conf"
	out=$(lab exec node2 timeout 60 hasvcd -c /etc/hasvc/bad.conf -f 2>&1 </dev/null) || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "hasvcd started (exit $rc) with '$script': $out"
	grep -qF -- "$want" <<<"$out" || fail "hasvcd with '$script' did not say '$want': $out"
	note "ok: refused: $(grep -F -- "$want" <<<"$out" | head -1)"
}
note "start-up errors name the key or the file (node2's hasvcd stopped)"
lab exec node2 bash -c 'kill -KILL $(cat /run/hasvcd.lab.pid)'
startup_error '/^http_tls_/d' "http_listen needs http_tls_cert and http_tls_key, or http_plain = yes"
startup_error 's#^http_tls_cert = .*#http_tls_cert = /etc/hasvc/pki/nosuch.pem#' \
	"http_tls_cert /etc/hasvc/pki/nosuch.pem: cannot read: No such file or directory"
"$SRC/deploy/hasvc-certs" host "$dir/pki" node2 10.77.0.12 --expired \
	--out "$dir/node2/etc/hasvc/expired" >/dev/null
startup_error 's#^http_tls_cert = .*#http_tls_cert = /etc/hasvc/expired/server-cert.pem#; s#^http_tls_key = .*#http_tls_key = /etc/hasvc/expired/server-key.pem#' \
	"http_tls_cert /etc/hasvc/expired/server-cert.pem: the certificate expired on"
startup_error 's#^http_tls_key = .*#http_tls_key = /etc/hasvc/expired/server-key.pem#' \
	"http_tls_key /etc/hasvc/expired/server-key.pem:"

note "node2 with http_plain = yes: plain HTTP there, and a warning"
lab exec node2 sed -i -e '/^http_tls_/d' -e '/^\[daemon\]/a http_plain = yes' /etc/hasvc/hasvc.conf
lab restart-daemon node2
wait_for 30 "node2's hasvcd back" digests_equal node1 node2
wait_for 30 "node1 sees node2" node_online node1 node2
[ "$(code node1 "${R[@]}" http://10.77.0.12:7480/v1/status)" = 200 ] ||
	fail "plain HTTP to node2 with http_plain = yes is not 200"
[ "$(code node1 http://10.77.0.12:7480/v1/status)" = 401 ] ||
	fail "no token over plain HTTP is not 401"
grep -q "http_plain = yes: the TCP API on 10.77.0.12:7480 is plain HTTP" \
	"$dir/node2/var/log/hasvc/hasvcd.log" || fail "node2's log has no plain-HTTP warning"
[ "$(code node2 --cacert "$ca" "${R[@]}" https://10.77.0.11:7480/v1/status)" = 200 ] ||
	fail "node1 stopped serving HTTPS"
grep -q "plain HTTP" "$dir/node1/var/log/hasvc/hasvcd.log" && fail "node1 warns of plain HTTP"
note "PASS"

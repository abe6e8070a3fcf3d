#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The dashboard in a real browser: headless Chromium, run inside lab host
# node3 (lab addresses are reachable only there), loads the page node3
# serves over TCP with the lab's read token (#token=, as an operator would
# open it). vm1 is paired node1 -> node2: the page shows it in-sync, and an
# event caused while it is open reaches it by the event stream; node1
# crashes: after the failover the page shows vm1 with primary node2 and the
# promotion in its event list. A screenshot of each is kept in the build dir.
# The operation-duration histograms count that failover (promtool-clean).
source "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null || fail "chromium is not installed (deploy/install-deps)"
lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 64M
note "pair vm1 node1 -> node2 and wait for in-sync"
lab exec node1 hasvc pair create vm1 --backup node2 --timeout 120 >/dev/null
wait_for 30 "node3 sees vm1 in-sync" pair_state_is node3 vm1 in-sync

dir=/var/lib/hasvc-lab/$HASVC_LAB
# ?stream=0: the page polls instead of following the event stream, because
# Chromium's virtual time budget waits for every open request to finish and
# the stream never does (the stream is checked below, by the page's console).
page="https://10.77.0.13:7480/?stream=0#token=lab-read-token"
# The API is HTTPS (deploy/lab). Chromium on Linux trusts only its NSS
# database (~/.pki/nssdb), which needs certutil (libnss3-tools, not
# installed) to take the lab CA. Instead it is told to accept exactly node3's
# key, by its SPKI hash: a pin of the one server, not a blanket
# --ignore-certificate-errors (Chromium honours the list with --user-data-dir).
spki=$(openssl x509 -in "$dir/node3/etc/hasvc/pki/server-cert.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
[ -n "$spki" ] || fail "cannot hash node3's certificate key"
tls=(--ignore-certificate-errors-spki-list="$spki")
# browse WHAT CHROMIUM_ARGS...: one headless run in node3 with a profile of its
# own; the virtual time budget lets the page run its fetches and redraw.
browse() {
	local what=$1
	shift
	rm -rf "$dir/chromium-$what"
	lab exec node3 timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$dir/chromium-$what" --window-size=1280,900 \
		"${tls[@]}" --virtual-time-budget=4000 "$@" "$page" 2>/dev/null
}
# pair_row DOM: the <tr> of vm1 in the pairs table, tags and all.
pair_row() { grep -oP '<tr data-vm="vm1">.*?</tr>' <<<"$1" || true; }
# cells ROW: its cells' text, "|"-separated: vm|state|primary|backup|mode|sync|last change
cells() { sed -e 's#</td>#|#g' -e 's/<[^>]*>//g' <<<"$1"; }

note "the page shows vm1 in-sync, primary node1"
dom=$(browse before --dump-dom)
row=$(pair_row "$dom")
[[ $(cells "$row") == 'vm1|in-sync|node1|node2|'* ]] ||
	fail "vm1 not shown in-sync node1 -> node2: '${row:-no row}' in $(head -c 3000 <<<"$dom")"
[[ $dom == *'quorate · coordinator'* ]] || fail "the page does not show a quorate cluster"
shot_before=$HASVC_BUILD_DIR/dashboard-before.png
browse shot-before --screenshot="$shot_before" >/dev/null
[ -s "$shot_before" ] || fail "no screenshot at $shot_before"

note "the page follows the event stream: an event caused now reaches it through the stream"
# (no ?stream=0 here: the run is cut by timeout, the page says what it got on its console)
rm -rf "$dir/chromium-live"
(sleep 5 && lab exec node1 hasvc node maintenance node3 on >/dev/null) &
cause=$!
lab exec node3 timeout 12 chromium --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$dir/chromium-live" --enable-logging=stderr --v=0 "${tls[@]}" \
	"https://10.77.0.13:7480/#token=lab-read-token" >/dev/null 2>"$dir/chromium-live.log" || true
wait "$cause" || fail "maintenance on node3 failed"
grep -q '"hasvc: following the event stream"' "$dir/chromium-live.log" ||
	fail "the page did not open the event stream: $(grep CONSOLE "$dir/chromium-live.log")"
grep -q 'hasvc: event [0-9]* (maintenance) from the stream' "$dir/chromium-live.log" ||
	fail "the maintenance event did not reach the page by the stream: $(grep CONSOLE "$dir/chromium-live.log")"
lab exec node1 hasvc node maintenance node3 off >/dev/null

note "crash node1, wait for the failover to node2"
lab crash node1
wait_for 90 "vm1's primary is node2" eval '[ "$(pair_field node3 vm1 primary)" = node2 ]'

note "the page shows vm1 on node2 and the promotion"
dom=$(browse after --dump-dom)
row=$(pair_row "$dom")
[ "$(cells "$row" | cut -d'|' -f3)" = node2 ] || fail "vm1 not shown with primary node2: '${row:-no row}'"
[[ $dom == *'vm1: promoting -&gt; unprotected (promoted)'* ]] ||
	fail "no promotion in the page's events: $(grep -oP '<ol id="events">.*?</ol>' <<<"$dom" | head -c 3000)"
grep -oP '<tr><td>node1</td>.*?</tr>' <<<"$dom" | contains -E '>(fenced|offline|fencing)<' ||
	fail "node1 not shown down: $(grep -oP '<tr><td>node1</td>.*?</tr>' <<<"$dom")"
shot_after=$HASVC_BUILD_DIR/dashboard-after-failover.png
browse shot-after --screenshot="$shot_after" >/dev/null
[ -s "$shot_after" ] || fail "no screenshot at $shot_after"

note "the failover is in the operation-duration histograms"
metrics=$(lab exec node3 curl -sf --unix-socket /run/hasvc/hasvcd.sock http://hasvc/metrics)
echo "$metrics" | promtool check metrics || fail "promtool rejects /metrics with histograms"
for op in failover promote initial_sync fence; do
	n=$(echo "$metrics" | sed -n "s/^hasvc_operation_duration_seconds_count{op=\"$op\"} //p")
	[ "${n:-0}" -ge 1 ] || fail "no $op in hasvc_operation_duration_seconds: $(echo "$metrics" | grep _count)"
done
note "$(echo "$metrics" | grep -E '^hasvc_operation_duration_seconds_(sum|count)' | tr '\n' ' ')"

echo "screenshot: $shot_before"
echo "screenshot: $shot_after"
note "PASS"

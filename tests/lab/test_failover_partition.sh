#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Partition (issue 6, third acceptance): node1, primary of vm1, is cut off
# from the cluster but keeps running. The majority fences node1 through its
# BMC (still reachable on the management network) before node2 promotes the
# backup; both libvirtds' domain states, sampled all along by this test,
# never show vm1 running on both hosts at once.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120
write_blocks node1 vm1 1 16

samples=/var/lib/hasvc-lab/$HASVC_LAB/domstates
sample() {
	while :; do
		echo "$(now_ms) $(domstate node1 vm1 | tr ' ' _) $(domstate node2 vm1 | tr ' ' _)"
		sleep 0.1
	done >"$samples"
}
sample &
sampler=$!
trap 'rc=$?; kill $sampler 2>/dev/null || true; (exit $rc); lab_teardown' EXIT

note "cut node1's cluster link; it keeps running"
sleep 1
lab partition node1
wait_for 30 "node1 without quorum" not_quorate node1
wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
sleep 2
kill $sampler
wait $sampler 2>/dev/null || true

note "$(wc -l <"$samples") samples of both domain states"
both=$(awk '$2 == "running" && $3 == "running"' "$samples" | wc -l)
[ "$both" -eq 0 ] || fail "vm1 ran on both hosts in $both samples: $(awk '$2 == "running" && $3 == "running"' "$samples" | head -3)"
awk '$2 == "running"' "$samples" | contains . || fail "never saw vm1 running on node1 (sampling broken?)"
awk '$3 == "running"' "$samples" | contains . || fail "never saw vm1 running on node2: $(tail -5 "$samples")"
last_n1=$(awk '$2 == "running" {t = $1} END {print t}' "$samples")
first_n2=$(awk '$3 == "running" {print $1; exit}' "$samples")
note "last seen running on node1 at +0, first on node2 $((first_n2 - last_n1)) ms later"

note "node1 was fenced (BMC off) before the promotion"
[ "$(lab power node1 status)" = "Chassis Power is off" ] || fail "node1's BMC says $(lab power node1 status)"
events=$(lab exec node2 hasvc events --json)
fence_ok=$(echo "$events" | jq '[.events[] | select(.kind == "fence" and (.message | contains("(off) succeeded")))][0].id')
promoted=$(echo "$events" | jq '[.events[] | select(.message | contains("fencing -> promoting"))][0].id')
[ "$fence_ok" != null ] && [ "$promoted" != null ] && [ "$fence_ok" -lt "$promoted" ] ||
	fail "fence #$fence_ok does not precede promotion #$promoted"
verify_blocks node2 vm1 1 16

note "heal and boot node1: vm1 stays on node2"
lab heal node1
lab boot node1
wait_for 60 "node1 online" node_online node2 node1
domstate_is node1 vm1 "shut off" || domstate_is node1 vm1 paused || fail "vm1 on node1 is $(domstate node1 vm1)"
domstate_is node2 vm1 running || fail "vm1 on node2 is $(domstate node2 vm1)"
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Two-node split (issue 5): after the cluster link is cut both halves stay
# quorate (two_node) and each wants to fence the other. The lower nodeid
# fences at once, the other waits, so every time exactly one host survives.
# Repeated HASVC_SPLITS times (default 5: each costs ~16 s, most of it the
# loser's 8 s fence delay waited out; `HASVC_SPLITS=20` for a longer run).
source "$(dirname "$0")/lib.sh"

splits=${HASVC_SPLITS:-5}
lab up --hosts 2 --fence-lost-hosts always
alive_count() { lab status | awk '$4 != "processes=0"' | wc -l; }
survivor() { lab status | awk '$4 != "processes=0" {print $1}'; }

for i in $(seq "$splits"); do
	for n in node1 node2; do wait_for 60 "$n online (split $i)" node_online node1 "$n"; done
	wait_for 30 "synced (split $i)" digests_equal node1 node2
	t0=$(now_ms)
	lab partition node2
	# The loser is powered off through its BMC within the fence delay.
	wait_for 40 "one host fenced (split $i)" bash -c "[ \$(\"$LAB_CMD\" status | awk '\$4 == \"processes=0\"' | wc -l) -ge 1 ]"
	sleep 10 # past the two-node fence delay: a second fence would have hit by now
	count=$(alive_count)
	[ "$count" -eq 1 ] || fail "split $i: $count hosts running, want exactly 1"
	s=$(survivor)
	note "split $i: $s survived, the other fenced after $(($(now_ms) - t0 - 10000)) ms"
	[ "$s" = node1 ] || fail "split $i: $s survived; the lower nodeid should win the race"
	lab exec node1 hasvc fence log --json | jq -e '.fence_log[0] | select(.target == "node2" and .result == "success")' >/dev/null ||
		fail "split $i: node1 has no successful fence of node2 in its log"
	lab heal node2
	lab power node2 on
done
note "PASS: $splits splits, exactly one survivor each time"

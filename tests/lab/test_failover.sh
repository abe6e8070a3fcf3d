#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Automatic failover on a host crash (issue 6, first acceptance): 3 nodes,
# vm1 paired node1 -> node2 in sync mode; numbered blocks written through
# QEMU's block layer, each acknowledged; node1 crashes. Then:
#   - node1 was fenced through its BMC before the backup was promoted
#     (fence log, and the event order);
#   - vm1 runs on node2 with every acknowledged block;
#   - it is re-protected at once onto node3, and writes reach the new backup;
#   - node1 comes back with vm1 shut off there: never two copies running.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
qio node1 vm1 "write -P 0x11 0 32M"

note "pair vm1 node1 -> node2 (sync) and wait for in-sync"
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync --wait --timeout 120
pair_state_is node3 vm1 in-sync || fail "node3 does not see vm1 in-sync"
domstate_is node2 vm1 paused || fail "backup on node2 is $(domstate node2 vm1), not paused"

note "write 32 numbered blocks, each acknowledged"
write_blocks node1 vm1 1 32

note "crash node1"
t0=$(now_ms)
lab crash node1
wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
note "vm1 runs on node2 $(($(now_ms) - t0)) ms after the crash"

note "node1 was fenced through its BMC before the promotion"
[ "$(lab power node1 status)" = "Chassis Power is off" ] || fail "node1's BMC says $(lab power node1 status)"
events=$(lab exec node2 hasvc events --json)
fence_ok=$(echo "$events" | jq '[.events[] | select(.kind == "fence" and (.message | contains("fence_ipmilan (off) succeeded")))][0].id')
fenced=$(echo "$events" | jq '[.events[] | select(.message | contains("fencing -> promoting"))][0].id')
promoted=$(echo "$events" | jq '[.events[] | select(.message | contains("promoting -> unprotected"))][0].id')
lost=$(echo "$events" | jq '[.events[] | select(.message | contains("in-sync -> fencing"))][0].id')
note "events: primary lost #$lost, fence off succeeded #$fence_ok, fenced #$fenced, promoted #$promoted"
[ "$lost" != null ] && [ "$fence_ok" != null ] && [ "$fenced" != null ] && [ "$promoted" != null ] ||
	fail "missing events: $(echo "$events" | jq -c '.events[-8:][] | .message')"
[ "$lost" -lt "$fence_ok" ] && [ "$fence_ok" -lt "$fenced" ] && [ "$fenced" -lt "$promoted" ] ||
	fail "events out of order: lost $lost, fence $fence_ok, fenced $fenced, promoted $promoted"
lab exec node2 hasvc fence log --json | jq -e '.fence_log[] | select(.target == "node1" and .action == "off" and .result == "success")' >/dev/null ||
	fail "no successful off in node1's fence log"

note "every acknowledged block is on node2's disk"
verify_blocks node2 vm1 1 32

note "re-protected onto node3; new writes reach it"
wait_for 120 "vm1 in-sync again" pair_state_is node2 vm1 in-sync
[ "$(pair_field node2 vm1 primary)/$(pair_field node2 vm1 backup)" = node2/node3 ] ||
	fail "expected node2/node3, got $(pair_field node2 vm1 primary)/$(pair_field node2 vm1 backup)"
write_blocks node2 vm1 33 40
port=$(pair_field node2 vm1 nbd_port)
nbd_io node3 10.77.0.13 "$port" -r -c "read -P 40 $((64 + 40))M 1M" -c "read -P 1 65M 1M" \
	>/dev/null || fail "a write after re-protection is missing on node3"

note "metrics count the failover and show the pair (promtool-clean)"
metrics=$(lab exec node3 curl -sf --unix-socket /run/hasvc/hasvcd.sock http://hasvc/metrics)
echo "$metrics" | promtool check metrics || fail "promtool rejects /metrics with pairs"
echo "$metrics" | contains -x 'hasvc_failovers 1' || fail "hasvc_failovers is not 1: $(echo "$metrics" | grep failovers)"
echo "$metrics" | contains -x 'hasvc_pairs{state="in-sync"} 1' || fail "no in-sync pair in the metrics"
echo "$metrics" | contains '^hasvc_pair_info{vm="vm1",primary="node2",backup="node3",mode="sync",state="in-sync"} 1$' ||
	fail "hasvc_pair_info: $(echo "$metrics" | grep pair_info)"

note "node1 returns: vm1 stays off there"
lab boot node1
wait_for 60 "node1 online" node_online node2 node1
sleep 2
domstate_is node1 vm1 "shut off" || fail "vm1 on node1 is $(domstate node1 vm1) after its return"
domstate_is node2 vm1 running || fail "vm1 on node2 is $(domstate node2 vm1)"
note "PASS"

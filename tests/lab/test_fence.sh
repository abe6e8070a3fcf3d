#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Fencing on the real lab (issue 5, first part): the real fence_ipmilan
# powers a host off through its ipmi_sim BMC, status confirms it, and the
# fence log has the record on every node. A dead BMC makes the fence fail
# after its timeout and retries, loudly, and the node is never "fenced".
# Operator mistakes get clear errors.
source "$(dirname "$0")/lib.sh"

lab up --hosts 3
for n in node1 node2 node3; do wait_for 30 "$n online" node_online node1 "$n"; done
wait_for 20 "state synced" digests_equal node1 node2 node3

note "hasvc fence check: every BMC answers monitor"
lab exec node2 hasvc fence check || fail "fence check failed with every BMC up"

note "hasvc fence node3 from node1"
lab exec node1 hasvc fence node3 | tee /dev/stderr | contains "fenced (verified)" || fail "fence not verified"
lab power node3 status | contains "Power is off" || fail "node3's BMC does not say off"
[ -z "$(lab status | awk '$1 == "node3" && $4 != "processes=0"')" ] || fail "node3 still has processes"
wait_for 10 "node3 fenced in node2's state" node_state_is node2 node3 fenced
lab exec node2 hasvc fence log --json | jq -e '.fence_log[0] | select(.target == "node3" and .result == "success" and .agent == "fence_ipmilan")' >/dev/null ||
	fail "node2's fence log lacks the successful fence of node3"
lab power node3 on
wait_for 30 "node3 back" node_online node1 node3
wait_for 30 "node3 caught up" digests_equal node1 node2 node3
lab exec node3 hasvc fence log | contains "node3 .*success" || fail "node3 did not receive its own fence record"
wait_for 10 "node3 online again in the state" node_state_is node1 node3 online

note "operator mistakes"
set +e
out=$(lab exec node1 hasvc fence node1 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | contains "cannot fence itself" || fail "self-fence: rc=$rc $out"
out=$(lab exec node1 hasvc fence node9 2>&1); rc=$?
[ $rc -eq 4 ] && echo "$out" | contains "no node 'node9'" || fail "unknown node: rc=$rc $out"
out=$(lab exec node1 hasvc fence 'no/de' 2>&1); rc=$?
[ $rc -ne 0 ] || fail "a bad node name was accepted: $out"
set -e

note "dead BMC: the fence fails after timeouts and retries; node2 never 'fenced'"
"$SRC/deploy/bmc/stop-bmc" --state-dir "/var/lib/hasvc-lab/$HASVC_LAB/node2/bmc"
set +e
out=$(lab exec node1 hasvc fence check 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "fence check passed with node2's BMC down: $out"
echo "$out" | grep -E "^node2 .* NO " >/dev/null || fail "fence check does not name node2's device: $out"
t0=$(now_ms)
set +e
out=$(lab exec node1 hasvc fence node2 2>&1); rc=$?
set -e
elapsed=$(($(now_ms) - t0))
note "failed fence took $elapsed ms: $out"
[ $rc -ne 0 ] || fail "fence through a dead BMC reported success"
echo "$out" | contains "not fenced" || fail "failure does not say 'not fenced': $out"
node_state_is node3 node2 fencing || fail "node2 is '$(node_state node3 node2)', want fencing"
lab exec node3 hasvc status | tee /dev/stderr | contains "node2: last fence failed: node2 not fenced" ||
	fail "hasvc status does not say why node2 is not fenced"
lab exec node3 hasvc fence log --json | jq -e '.fence_log[0] | select(.target == "node2" and .result == "failed")' >/dev/null ||
	fail "the failed fence is not in node3's fence log"
lab exec node2 true # node2 itself still runs: nothing acted on the failure
note "PASS"

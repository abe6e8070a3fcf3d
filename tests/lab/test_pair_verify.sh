#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 13, item 6: the online verify of a pair (hasvc pair verify VM
# [--repair]) on a real 2-host lab. vm1 (256 MiB disk, 32 MiB written) is
# paired node1 -> node2 in sync mode:
#   1. refused while the pair is initial-sync (exit 7, the state named), for
#      an unknown VM (exit 4), on the backup's host (exit 7, the primary
#      named), and bad flags (exit 2);
#   2. in-sync, with the guest writing 1 MiB blocks during the compare: the
#      verify finds nothing (a chunk written meanwhile is read again, never
#      reported), every host's API, pair show and /metrics show the result;
#      an NBD server someone else started in the primary's QEMU fails the
#      verify (exit 1, recorded as failed), an earlier verify's leftover
#      export is removed and the verify runs; none is left after it;
#   3. blocks changed on the backup behind hasvc's back: written into the
#      backup's NBD export from node2 (qemu-io over NBD with node2's own
#      certificate), which the backup's QEMU writes into its image and the
#      primary never hears of; the images differ (qemu-img compare);
#   4. verify: exit 8, the ranges named (chunk-aligned) in the answer, the
#      event and the API; a second verify while it runs: exit 5;
#   5. verify --repair: exactly those ranges copied with the guest paused
#      (the pause measured and printed), the pair stays in-sync; verify
#      again: none; the images compare identical (tests/lab/lib.sh
#      images_identical);
#   6. the backup's link cut: the pair degrades, verify refused (exit 7).
# With HASVC_LAB_DAEMON_ENV=HASVC_MIRROR_ENGINE=qmp the same runs on the qmp
# engine. It prints bytes compared, times and pauses, for docs/pairs.md.
source "$(dirname "$0")/lib.sh"

MIB=1048576
metrics() { lab exec "$1" curl -sf --unix-socket /run/hasvc/hasvcd.sock http://hasvc/metrics; }
verify_field() { pair_json "$1" vm1 | jq -r ".verify.$2"; }
outfile=$(mktemp)

lab up --hosts 2
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
qio node1 vm1 "write -P 0x5a 0 32M"

note "1. refusals: initial-sync, unknown VM, backup host, bad flags"
lab exec node1 hasvc pair create vm1 --backup node2 --bandwidth 1 --no-wait >/dev/null
wait_for 60 "the initial sync under way" pair_state_is node1 vm1 initial-sync
expect 7 "vm1 is initial-sync, not in-sync" lab exec node1 hasvc pair verify vm1
expect 4 "no pair for VM 'vmX'" lab exec node1 hasvc pair verify vmX
expect 2 "usage: hasvc pair verify VM" lab exec node1 hasvc pair verify
expect 2 "usage: hasvc pair verify VM" lab exec node1 hasvc pair verify vm1 vm2
expect 2 "usage: hasvc pair verify VM" lab exec node1 hasvc pair verify vm1 --live
expect 2 "unrecognized option '--fix'" lab exec node1 hasvc pair verify vm1 --fix
expect 22 "field 'repair' must be true or false, not string" lab exec node1 curl -s --fail-with-body \
	--unix-socket /run/hasvc/hasvcd.sock -X POST -d '{"repair":"yes"}' http://hasvc/v1/pairs/vm1/verify
lab exec node1 hasvc pair set vm1 --bandwidth 0 >/dev/null 2>&1
wait_for 120 "in-sync" pair_state_is node1 vm1 in-sync
expect 7 "the primary host of vm1 is node1" lab exec node2 hasvc pair verify vm1
[ "$(verify_field node1 result)" = null ] || fail "a refused verify left a result"

note "2. in-sync, the guest writing during the compare: nothing out of sync"
write_blocks node1 vm1 0 15 &
writer=$!
t0=$(now_ms)
out=$(lab exec node1 hasvc pair verify vm1 2>&1) || fail "verify of an in-sync pair failed: $out"
t_clean=$(($(now_ms) - t0))
wait $writer || fail "the guest's writes failed"
note "verify: $out ($t_clean ms by the CLI)"
echo "$out" | contains "vm1: in-sync: vm1: $((256 * MIB)) bytes compared" || fail "unexpected answer: $out"
[ "$(verify_field node2 result)" = in-sync ] || fail "node2's API lacks the verify: $(pair_json node2 vm1 | jq -c .verify)"
note "rechecked chunks during the writes: $(verify_field node1 rechecked_chunks), compare $(verify_field node1 elapsed_ms) ms"
lab exec node2 hasvc pair show vm1 | contains '^verify:    in-sync on node1, ' || fail "pair show lacks the verify"
metrics node2 | contains '^hasvc_pair_verify_out_of_sync_bytes{vm="vm1"} 0$' || fail "metrics: $(metrics node2 | grep verify)"
metrics node2 | contains "^hasvc_pair_verify_compared_bytes{vm=\"vm1\"} $((256 * MIB))$" || fail "metrics: $(metrics node2 | grep verify)"
images_identical node1 node2 "$(pair_field node1 vm1 nbd_port)" || fail "in sync, yet the images differ"

note "2b. an NBD server in the primary's QEMU: another's refused, an earlier verify's removed"
qmp1() { lab exec node1 virsh qemu-monitor-command vm1 "$1"; }
qmp1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"127.0.0.1","port":"10899"}}}}' >/dev/null
expect 1 "QEMU serves NBD already" lab exec node1 hasvc pair verify vm1
[ "$(verify_field node2 result)" = failed ] || fail "a failed verify recorded as $(verify_field node2 result)"
fmt=$(qmp1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '[.return[] | select(.drv == "qcow2" and (.file | endswith("/vm1.qcow2")))][0]."node-name"')
qmp1 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"hs-verify-vda\",\"node-name\":\"$fmt\",\"name\":\"vda\",\"writable\":false}}" >/dev/null
out=$(lab exec node1 hasvc pair verify vm1 2>&1) || fail "verify beside an earlier verify's leftover export: $out"
[ "$(qmp1 '{"execute":"query-block-exports"}' | jq '.return | length')" = 0 ] || fail "exports left after a verify: $(qmp1 '{"execute":"query-block-exports"}')"

note "3. three blocks changed on the backup behind hasvc's back (its NBD export, from node2)"
port=$(pair_field node1 vm1 nbd_port)
nbd_io node2 10.77.0.12 "$port" -c "write -P 0xa5 5M 64k" -c "write -P 0xa6 100M 4k" \
	-c "write -P 0xa7 200M 2M" >/dev/null || fail "cannot write into the backup's export"
! images_identical node1 node2 "$port" || fail "the images are still identical: the change did not reach the backup"
pair_state_is node1 vm1 in-sync || fail "vm1 left in-sync: $(pair_field node1 vm1 state)"

note "4. verify: the ranges named; a second verify meanwhile refused"
lab exec node1 hasvc pair verify vm1 >"$outfile" 2>&1 &
verifier=$!
wait_for 10 "the verify running" event_count_above node1 "verify of vm1 started on node1" 1
expect 5 "a verify of vm1 runs already on node1" lab exec node1 hasvc pair verify vm1 --no-wait
rc=0
wait $verifier || rc=$?
out=$(cat "$outfile")
note "verify: $out"
[ "$rc" = 8 ] || fail "verify of a changed backup exited $rc, want 8: $out"
ranges="vda:5242880+1048576, vda:104857600+1048576, vda:209715200+2097152"
echo "$out" | contains "$((4 * MIB)) bytes out of sync in 3 range(s): $ranges" || fail "ranges wrong: $out"
[ "$(verify_field node2 ranges)" = "$ranges" ] || fail "node2's API: $(verify_field node2 ranges)"
[ "$(verify_field node2 result)" = out-of-sync ] || fail "node2's API: $(verify_field node2 result)"
[ "$(event_count node2 "out of sync in 3 range(s): $ranges")" -ge 1 ] || fail "no event names the ranges"
metrics node2 | contains "^hasvc_pair_verify_out_of_sync_bytes{vm=\"vm1\"} $((4 * MIB))$" || fail "metrics: $(metrics node2 | grep verify)"
metrics node2 | contains "^hasvc_pair_verify_remaining_bytes{vm=\"vm1\"} $((4 * MIB))$" || fail "metrics: $(metrics node2 | grep verify)"
! images_identical node1 node2 "$port" || fail "a verify without --repair changed the backup"

note "5. verify --repair, then verify: none; images identical"
out=$(lab exec node1 hasvc pair verify vm1 --repair 2>&1) || fail "verify --repair failed: $out"
note "repair: $out"
echo "$out" | contains -E "^vm1: repaired: .* $((4 * MIB)) repaired with the guest paused 1 time\(s\), [0-9]+ ms in all .*; 0 bytes still differ" ||
	fail "unexpected repair answer: $out"
note "pause: $(verify_field node1 pause_ms) ms (longest $(verify_field node1 pause_max_ms) ms), repaired $(verify_field node1 repaired_bytes) bytes"
[ "$(verify_field node1 pause_ms)" -lt 5000 ] || fail "the guest was paused $(verify_field node1 pause_ms) ms"
domstate_is node1 vm1 running || fail "vm1 is $(domstate node1 vm1) after the repair"
pair_state_is node1 vm1 in-sync || fail "vm1 left in-sync during the repair: $(pair_field node1 vm1 state)"
out=$(lab exec node1 hasvc pair verify vm1 2>&1) || fail "verify after the repair: $out"
echo "$out" | contains ": in sync$" || fail "verify after the repair: $out"
lab exec node1 virsh -q suspend vm1 >/dev/null
images_identical node1 node2 "$port" || fail "the images differ after the repair"
lab exec node1 virsh -q resume vm1 >/dev/null
verify_blocks node1 vm1 0 15

note "6. the backup's link cut: degraded, verify refused"
lab repl node2 cut
qio node1 vm1 "write -P 0x11 150M 1M"
wait_for 30 "vm1 degraded" pair_state_is node1 vm1 degraded
expect 7 "vm1 is degraded, not in-sync" lab exec node1 hasvc pair verify vm1
lab repl node2 heal
rm -f "$outfile"
note "ok (compare of 256 MiB in sync: $t_clean ms by the CLI)"

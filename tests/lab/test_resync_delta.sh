#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 13, part 1: with the experimental qmp mirror engine
# (HASVC_MIRROR_ENGINE=qmp in every hasvcd, through HASVC_LAB_DAEMON_ENV), an
# outage of the replication link resyncs only what was written meanwhile.
#   1. A sync pair of a 256 MiB disk reaches in-sync through hasvc's own
#      blockdev-mirror job (hs-vda), which libvirt does not list.
#   2. node2's replication link is cut (iptables DROP: a silent peer). W =
#      16 MiB are written on node1, in 1 MiB blocks of known patterns; every
#      write completes (the link timeout fails the connection, the job pauses
#      and keeps what it owes); the pair degrades.
#   3. Healed: the pair returns to in-sync through an incremental resync (its
#      event says so), the job copied at most 2 x W + granularity slack (not
#      the 256 MiB), and the two images compare identical block for block
#      over NBD (the primary's through a read-only export of its own, the
#      backup's through its TLS export).
# It prints the bytes owed and copied and the times, for docs/mirror.md.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
W=$((16 * MIB))
SLACK=$((2 * MIB)) # the sync mirror's granularity is 1 MiB: one chunk each side

# job FIELD: a field of vm1's mirror job hs-vda on node1 ("" when there is none).
job() { qmp node1 '{"execute":"query-block-jobs"}' | jq -r --arg f "$1" '.[] | select(.device == "hs-vda") | .[$f] | tostring'; }

export HASVC_LAB_DAEMON_ENV=HASVC_MIRROR_ENGINE=qmp
lab up --hosts 2
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
t0=$(now_ms)
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync
wait_for 60 "vm1 in-sync" pair_state_is node1 vm1 in-sync
note "1. in-sync in $(($(now_ms) - t0)) ms (full copy of 256 MiB, qmp engine)"
[ "$(job status)" = ready ] || fail "no READY job hs-vda on node1: $(qmp node1 '{"execute":"query-block-jobs"}')"
lab exec node1 virsh blockjob vm1 vda | contains "No current block job" || fail "libvirt runs a block job on vda"
full=$(job offset)
note "the initial copy: job offset $full bytes"

note "2. node2's replication link cut; W = $W bytes written on node1"
lab repl node2 cut
t0=$(now_ms)
write_blocks node1 vm1 1 16
note "16 x 1 MiB acknowledged in $(($(now_ms) - t0)) ms with the link cut"
wait_for 30 "vm1 degraded" pair_state_is node1 vm1 degraded
wait_for 30 "hs-vda paused" bash -c "[ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command vm1 '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[] | select(.device == \"hs-vda\") | .paused')\" = true ]"
owed=$(($(job len) - $(job offset)))
off0=$(job offset)
note "the paused job owes $owed bytes ($(job status)/$(job io-status))"
[ "$owed" -ge "$W" ] && [ "$owed" -le $((2 * W + SLACK)) ] || fail "the job owes $owed bytes for W = $W"

note "3. healed: back to in-sync by an incremental resync"
lab repl node2 heal
t0=$(now_ms)
wait_for 80 "vm1 in-sync again" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r .state)\" = in-sync ] && [ \"\$($LAB_CMD exec node1 virsh qemu-monitor-command vm1 '{\"execute\":\"query-block-jobs\"}' | jq -r '.return[] | select(.device == \"hs-vda\") | .status')\" = ready ]"
copied=$(($(job offset) - off0))
note "in-sync $(($(now_ms) - t0)) ms after the heal; the resync copied $copied bytes for W = $W (the full copy: $full)"
lab exec node1 hasvc events | grep "vm1" | grep -E "resync|degraded|in-sync" | tail -6
event_count_above node1 "incremental resync" 0 || fail "no incremental resync in the events"
! event_count_above node1 "full resync" 0 || fail "a full resync ran"
[ "$copied" -le $((2 * W + SLACK)) ] || fail "the resync copied $copied bytes for W = $W"
[ "$copied" -ge "$W" ] || fail "the resync copied $copied bytes, less than W = $W"

note "primary and backup compared block for block over NBD"
port=$(pair_field node1 vm1 nbd_port)
qmp node1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.11","port":"10899"}}}}' >/dev/null
qmp node1 '{"execute":"block-export-add","arguments":{"type":"nbd","id":"cmp-vda","node-name":"libvirt-1-format","name":"vda","writable":false}}' >/dev/null
mapfile -t b < <(nbd_image 10.77.0.12 "$port" vda)
if [ "${b[0]}" = --object ]; then
	lab exec node1 qemu-img compare -q "${b[0]}" "${b[1]}" --image-opts \
		"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=10.77.0.11,file.server.port=10899,file.export=vda" \
		"${b[3]}" || fail "primary and backup differ after the incremental resync"
else
	lab exec node1 qemu-img compare -q -f raw -F raw nbd://10.77.0.11:10899/vda "${b[2]}" ||
		fail "primary and backup differ after the incremental resync"
fi
qmp node1 '{"execute":"block-export-del","arguments":{"id":"cmp-vda"}}' >/dev/null
qmp node1 '{"execute":"nbd-server-stop"}' >/dev/null
note "identical"
note "PASS"

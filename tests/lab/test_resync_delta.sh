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
#   3b. Cut again, and the primary's QEMU restarted meanwhile (virsh destroy;
#      node1's hasvcd starts it again, keep-running): its paused job and dirty bitmap are gone, so after the heal
#      the resync is full, and the event says why; the disks compare equal.
#   3c. Cut again, and node2's image replaced by another file meanwhile (a
#      restore): it carries no identity (issue 13, item 4), so the copy after
#      the heal is full, with that reason; the disks compare equal.
#   3d. node2 crashes (every process killed, its disk kept) and boots: the
#      paused job resumes into the same disk (its identity checked), a delta
#      of at most 2 x W + slack; the disks compare equal.
#   3e. node2's hasvcd, then its libvirtd, restarted while node1 writes: the
#      pair never degrades, no copy starts, the job moves by the writes alone.
#   4. A switchover on the qmp engine: the drain sees our job, cancels it, the
#      roles reverse, and node2 mirrors back to node1 with a job of its own
#      (a full copy for now, with the reason: issue 13 item 2 is not built).
# It prints the bytes owed and copied and the times, for docs/mirror.md.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576
W=$((16 * MIB))
SLACK=$((2 * MIB)) # a chunk of the sync mirror's granularity (256 KiB) each side, and room

# job FIELD: a field of vm1's mirror job hs-vda on node1 ("" when there is none).
job() { qmp node1 '{"execute":"query-block-jobs"}' | jq -r --arg f "$1" '.[] | select(.device == "hs-vda") | .[$f] | tostring'; }

# compare_disks: vm1's disk on node1 and the backup's on node2, block for block
# over NBD (the primary's through a read-only export of its own, port 10899).
compare_disks() {
	local port fmt
	local -a b
	port=$(pair_field node1 vm1 nbd_port)
	fmt=$(qmp node1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
		jq -r '[.[] | select(.drv == "qcow2" and (.file | endswith("/vm1.qcow2")))][0]."node-name"')
	qmp node1 '{"execute":"nbd-server-start","arguments":{"addr":{"type":"inet","data":{"host":"10.77.0.11","port":"10899"}}}}' >/dev/null
	qmp node1 "{\"execute\":\"block-export-add\",\"arguments\":{\"type\":\"nbd\",\"id\":\"cmp-vda\",\"node-name\":\"$fmt\",\"name\":\"vda\",\"writable\":false}}" >/dev/null
	mapfile -t b < <(nbd_image 10.77.0.12 "$port" vda)
	if [ "${b[0]}" = --object ]; then
		lab exec node1 qemu-img compare -q "${b[0]}" "${b[1]}" --image-opts \
			"driver=raw,file.driver=nbd,file.server.type=inet,file.server.host=10.77.0.11,file.server.port=10899,file.export=vda" \
			"${b[3]}" || fail "primary and backup differ"
	else
		lab exec node1 qemu-img compare -q -f raw -F raw nbd://10.77.0.11:10899/vda "${b[2]}" ||
			fail "primary and backup differ"
	fi
	qmp node1 '{"execute":"block-export-del","arguments":{"id":"cmp-vda"}}' >/dev/null
	qmp node1 '{"execute":"nbd-server-stop"}' >/dev/null
	note "identical"
}

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
copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
[ "$copy" = "full/new backup" ] || fail "the new pair's copy is '$copy', not full/new backup"

note "2. node2's replication link cut; W = $W bytes written on node1"
lab repl node2 cut
t0=$(now_ms)
write_blocks node1 vm1 1 16
note "16 x 1 MiB acknowledged in $(($(now_ms) - t0)) ms with the link cut"
wait_for 30 "vm1 degraded" event_count_above node1 "in-sync -> degraded" 0
# No wait for "paused": hasvcd is soon trying resumes (the backup host is up,
# host-returned), and a try holds the job "running" while the NBD client
# connects to the cut host. Nothing is copied meanwhile: offset and len only
# move with a copy that succeeds, or a write.
owed=$(($(job len) - $(job offset)))
off0=$(job offset)
note "the job owes $owed bytes ($(job status)/$(job io-status))"
[ "$(job actively-synced)" = false ] || fail "the job is actively synced with the link cut"
[ "$owed" -ge "$W" ] && [ "$owed" -le $((2 * W + SLACK)) ] || fail "the job owes $owed bytes for W = $W"

note "3. healed: back to in-sync by an incremental resync"
lab repl node2 heal
t0=$(now_ms)
# sampled: the pair must not say in-sync while the job still owes bytes; a
# kind shown during the resync must be delta (before it, degraded and
# creating still show the initial copy's: full)
deadline=$(($(now_ms) + 80000))
while :; do
	st=$(pair_field node1 vm1 'state + " " + (.copy.kind // "")')
	kind=${st#* }
	st=${st%% *}
	if [ "$st" = initial-sync ] && [ -n "$kind" ]; then
		[ "$kind" = delta ] || fail "the resync shows a $kind copy"
		seen_delta=1
	fi
	js=$(qmp node1 '{"execute":"query-block-jobs"}' | jq -r '.[] | select(.device == "hs-vda") | "\(.status)/\(."actively-synced")/\(.len - .offset)"')
	if [ "$st" = in-sync ]; then
		[ "$js" = ready/true/0 ] || fail "vm1 is in-sync while its job is $js (status/actively-synced/owed)"
		break
	fi
	[ "$(now_ms)" -lt "$deadline" ] || fail "vm1 not in-sync 80 s after the heal (job $js)"
	sleep 0.2
done
copied=$(($(job offset) - off0))
note "in-sync $(($(now_ms) - t0)) ms after the heal; the resync copied $copied bytes for W = $W (the full copy: $full)"
lab exec node1 hasvc events | grep "vm1" | grep -E "resync|degraded|in-sync" | tail -6
event_count_above node1 "incremental resync" 0 || fail "no incremental resync in the events"
! event_count_above node1 "full resync" 0 || fail "a full resync ran"
# the resume swapped a fresh NBD node in under the job's quorum (x-blockdev-change,
# unstable QMP: this fails when QEMU changes it) and deleted the old one
event_count_above node1 "on a fresh NBD connection" 0 ||
	fail "the resync did not get a fresh NBD node: $(lab exec node1 hasvc events | grep 'incremental resync' | tail -1)"
nbd_nodes=$(qmp node1 '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
	jq -r '[.[]."node-name" | select(startswith("hs-nbd-vda"))] | join(" ")')
[[ $nbd_nodes =~ ^hs-nbd-vda-[1-9][0-9]*$ ]] || fail "the NBD nodes after the swap: '$nbd_nodes'"
[ "$copied" -le $((2 * W + SLACK)) ] || fail "the resync copied $copied bytes for W = $W"
[ "$copied" -ge "$W" ] || fail "the resync copied $copied bytes, less than W = $W"
copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
[ "$copy" = "delta/paused jobs resumed" ] || fail "the resync's copy is '$copy', not a delta"
note "the copy: $copy (seen during the resync: ${seen_delta:-no sample})"
lab exec node1 hasvc pair show vm1 | contains '^copy:      delta (paused jobs resumed), copied$' ||
	fail "pair show lacks the delta copy: $(lab exec node1 hasvc pair show vm1)"

compare_disks

note "3b. cut again; the primary's QEMU restarted while the backup is away"
lab repl node2 cut
write_blocks node1 vm1 20 21
wait_for 30 "vm1 degraded again" event_count_above node1 "in-sync -> degraded" 1
lab exec node1 virsh -q destroy vm1 >/dev/null
# node1's hasvcd starts the destroyed guest again by itself (keep-running)
wait_for 30 "vm1 started again on node1" domstate_is node1 vm1 running
write_blocks node1 vm1 22 23
[ -z "$(job status)" ] || fail "a job survived the primary's QEMU: $(job status)"
lab repl node2 heal
t0=$(now_ms)
wait_for 80 "vm1 in-sync after a full resync" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r .state)\" = in-sync ]"
note "in-sync $(($(now_ms) - t0)) ms after the heal; the new job copied $(job offset) bytes"
[ "$(job offset)" -ge "$full" ] || fail "the resync after the primary's restart copied $(job offset) bytes, not the whole disk"
event_count_above node1 "full resync: the primary's QEMU restarted, its dirty bitmap is gone" 0 ||
	fail "no event says why the resync is full"
lab exec node1 hasvc events | grep "vm1" | grep "full resync" | tail -1
copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
case "$copy" in
"full/the primary's QEMU restarted"*) note "the copy: $copy" ;;
*) fail "after the primary's restart the copy is '$copy', not full with that reason" ;;
esac
event_count_above node1 "full copy of vm1 to node2 (the primary's QEMU restarted" 0 ||
	fail "no mirror-started event gives the full copy's reason"
compare_disks

note "3c. cut again; while away, node2's backup image is replaced by another file (issue 13, item 4)"
img2=/var/lib/hasvc-lab/$HASVC_LAB/node2/var/lib/libvirt/images/vm1.qcow2
identity_of() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.hasvc.disk").decode())' "$1"; }
id0=$(identity_of "$img2") || fail "node2's backup image carries no identity"
note "node2's image: user.hasvc.disk = $id0"
lab repl node2 cut
write_blocks node1 vm1 24 25
wait_for 30 "vm1 degraded a third time" event_count_above node1 "in-sync -> degraded" 2
off0=$(job offset)
# a restore as backup tools do it: a new file moved into place (no identity)
qemu-img create -q -f qcow2 "$img2.restored" 256M
mv "$img2.restored" "$img2"
lab repl node2 heal
t0=$(now_ms)
wait_for 80 "vm1 in-sync after the replaced disk's full copy" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r .state)\" = in-sync ]"
copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
note "in-sync $(($(now_ms) - t0)) ms after the heal; copy $copy; the job copied $(job offset) bytes (the paused one had $off0)"
case "$copy" in
"full/the backup's disk is not the one in step: "*"vm1.qcow2 carries no hasvc identity"*) ;;
*) fail "a replaced backup disk was copied as '$copy'" ;;
esac
[ "$(job offset)" -ge "$full" ] || fail "the copy onto the replaced disk moved $(job offset) bytes, not the whole disk"
event_count_above node2 "carries no hasvc identity" 0 || fail "no event of node2's prepare says what it found"
compare_disks

note "3d. node2 crashes (every process killed, its disk kept) and boots: the resync is a delta"
id1=$(identity_of "$img2") || fail "the replaced image was not given an identity"
[ "$id1" != "$id0" ] || fail "the prepare did not renew the identity ($id0)"
off0=$(job offset)
lab crash node2
t0=$(now_ms)
write_blocks node1 vm1 26 41
note "16 x 1 MiB acknowledged in $(($(now_ms) - t0)) ms with node2 down"
wait_for 30 "vm1 degraded a fourth time" event_count_above node1 "in-sync -> degraded" 3
owed=$(($(job len) - $(job offset)))
lab boot node2
t0=$(now_ms)
wait_for 120 "vm1 in-sync after node2's boot" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r .state)\" = in-sync ]"
copied=$(($(job offset) - off0))
copy=$(pair_field node1 vm1 'copy | .kind + "/" + .reason')
note "in-sync $(($(now_ms) - t0)) ms after node2's boot; owed $owed, copied $copied bytes for W = $W; copy $copy"
[ "$copy" = "delta/paused jobs resumed" ] || fail "after the backup host's crash the copy is '$copy', not a delta"
[ "$copied" -ge "$W" ] && [ "$copied" -le $((2 * W + SLACK)) ] || fail "the resync after node2's crash copied $copied bytes for W = $W"
compare_disks

note "3e. node2's hasvcd, then its libvirtd, restarted with writes going on: no copy at all"
degr0=$(event_count node1 "-> degraded")
copies0=$(event_count node1 "copy of vm1 to node2")
off0=$(job offset)
lab restart-daemon node2
write_blocks node1 vm1 42 45
wait_for 60 "node2's hasvcd back and synced" synced node2
lab restart node2 libvirtd
write_blocks node1 vm1 46 49
wait_for 30 "vm1 in-sync" pair_state_is node1 vm1 in-sync
copied=$(($(job offset) - off0))
note "8 x 1 MiB written across both restarts; the job moved $copied bytes"
[ "$(event_count node1 "-> degraded")" = "$degr0" ] ||
	fail "a restart on the backup host degraded the pair: $(lab exec node1 hasvc events | grep -- "-> degraded" | tail -1)"
[ "$(event_count node1 "copy of vm1 to node2")" = "$copies0" ] ||
	fail "a restart on the backup host started a copy: $(lab exec node1 hasvc events | grep "copy of vm1" | tail -1)"
[ "$copied" -ge $((8 * MIB)) ] && [ "$copied" -le $((8 * MIB + SLACK)) ] ||
	fail "the job moved $copied bytes for 8 MiB written: more than the writes themselves"
compare_disks

note "4. switchover node1 -> node2 on the qmp engine"
t0=$(now_ms)
lab exec node1 hasvc switchover vm1
wait_for 60 "vm1 in-sync on node2" bash -c "[ \"\$($LAB_CMD exec node1 hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/node2 ]"
note "roles reversed and in sync in $(($(now_ms) - t0)) ms"
domstate_is node2 vm1 running || fail "vm1 is $(domstate node2 vm1) on node2"
verify_blocks node2 vm1 1 16
back=$(lab exec node2 virsh qemu-monitor-command vm1 '{"execute":"query-block-jobs"}' | jq -r '.return[] | select(.device == "hs-vda") | .status')
[ "$back" = ready ] || fail "node2 has no READY job hs-vda: '$back'"
lab exec node1 hasvc events | grep "vm1" | grep -E "resync" | tail -1
note "PASS"

#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Issue 15: sync mode writing both disks at once (HASVC_SYNC_WRITES=parallel,
# experimental, with the qmp engine; docs/mirror.md "Parallel sync writes").
#   1. A sync pair reaches in-sync: the initial copy by a mirror job from our
#      quorum, then the handover: the guest device on quorum hs-g-vda with
#      the local disk first and an NBD child to the backup second, no block
#      job left, a dirty bitmap recording; libvirt sees nothing of it.
#   2. Writes reach the backup (read back from its export), and a guest flush
#      reaches the backup's disk too.
#   3. node2's replication link cut: every write completes, the child is
#      taken out of the quorum at once (QUORUM_REPORT_BAD), the pair
#      degrades. Healed: an incremental resync from the dirty bitmaps, the
#      guest writing all along, its event names the bytes, far fewer than
#      the disk; the images compare identical.
#   4. node1's hasvcd restarted: the new one did not add the child (its
#      events went to the old one), but vouches for it, its sockets never
#      having ended (docs/mirror.md, Vouching): never degraded, the same
#      child, writes after it on the backup; identical again (the case it
#      cannot vouch for: test_sync_parallel_refusal.sh).
#   5. Live switchovers there and back: the guest migrates with its disks on
#      the quorums (writes before and during the move on the new primary),
#      the new primary puts its own guest device on a quorum whose NBD child
#      goes to the old primary, now the paused backup; the copy back is a
#      delta; the images compare identical each time; no reboot.
#   6. Power loss of the primary after writes: node2 is promoted and holds
#      every acknowledged block.
#   7. pair delete on the promoted side leaves libvirt's graph alone, and a
#      delete of a parallel pair puts the device back (checked in 1b).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_qmp.sh"

VM=vm1
MIB=1048576

q1() { qmp node1 "$1"; }
# device_node NODE: the node the guest device of vm1 on NODE sits on.
device_node() {
	qmp "$1" '{"execute":"query-block"}' | jq -r '[.[] | select(.qdev | test("virtio-backend")) | .inserted."node-name"][0]'
}
# children [NODE]: the children of NODE's quorum hs-g-vda (node1's by default).
children() {
	qmp "${1:-node1}" '{"execute":"x-debug-query-block-graph"}' | jq -r '
		(.nodes | map({(.id | tostring): .name}) | add) as $n
		| [.edges[] | select($n[(.parent | tostring)] == "hs-g-vda") | $n[(.child | tostring)]] | join(" ")'
}
# child_goes_to NODE: where NODE's NBD child of hs-g-vda connects ("10.77.0.12:port").
child_goes_to() {
	qmp "$1" '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
		jq -r '[.[] | select(."node-name" | startswith("hs-s-vda-")) | .file][0] // ""' | sed -n 's|^nbd://\([^/]*\)/.*|\1|p'
}
bitmaps() {
	qmp "${1:-node1}" '{"execute":"query-named-block-nodes","arguments":{"flat":true}}' |
		jq -r '[.[] | select(.drv == "qcow2") | ."dirty-bitmaps"[]?.name] | join(" ")'
}
child_gone() { ! children | grep -q hs-s-; }
block_jobs() { qmp "${1:-node1}" '{"execute":"query-block-jobs"}' | jq -r '[.[].device] | join(" ")'; }
# in_steady [NODE]: vm1's device on NODE on the quorum with both children, no job.
in_steady() {
	local n=${1:-node1}
	[[ $(device_node "$n") == hs-g-vda && $(children "$n") == *hs-s-vda-* && -z $(block_jobs "$n") ]]
}
# on_backup FIRST LAST: write_blocks' blocks are on the backup's export.
on_backup() {
	local i port
	port=$(pair_field node1 vm1 nbd_port)
	for i in $(seq "$1" "$2"); do
		nbd_io node1 10.77.0.12 "$port" -r -c "read -P $((i & 0xff)) $((64 + i))M 1M" >/dev/null 2>&1 ||
			return 1
	done
}
# identical [PRIMARY BACKUP]: with the guest paused, PRIMARY's image equals BACKUP's export.
identical() {
	local p=${1:-node1} b=${2:-node2}
	lab exec "$p" virsh -q suspend vm1 >/dev/null
	images_identical "$p" "$b" "$(pair_field "$p" vm1 nbd_port)" || { lab exec "$p" virsh -q resume vm1; fail "$p's and $b's images differ"; }
	lab exec "$p" virsh -q resume vm1 >/dev/null
	note "identical"
}
# live_move FROM TO: a live switchover of vm1 with writes before and during
# it (blocks from $written + 1 on); each acknowledged one read back on TO.
written=50
live_move() {
	local from=$1 to=$2 t0 during=0 acked=0 i tried=() unacked=() ip
	write_blocks "$from" vm1 $((written + 1)) $((written + 4))
	written=$((written + 4))
	t0=$(now_ms)
	lab exec "$from" hasvc switchover vm1 --live --no-wait
	# (HMP qemu-io answers before its write ran; QEMU's log says whether it did)
	while domstate_is "$from" vm1 running && ! migrating_out "$from" vm1 && [ $during -lt 8 ]; do
		qio "$from" vm1 "write -P $(((written + 1) & 0xff)) $((64 + written + 1))M 1M" 2>/dev/null || break
		written=$((written + 1)) during=$((during + 1))
		tried+=("$written")
	done
	wait_for 180 "vm1 in-sync on $to" bash -c "[ \"\$($LAB_CMD exec $to hasvc pair show vm1 --json | jq -r '.state + \"/\" + .primary')\" = in-sync/$to ]"
	note "moved live $from -> $to, in sync in $(($(now_ms) - t0)) ms ($during writes during the move)"
	print_road "$to" vm1 "$t0"
	domstate_is "$to" vm1 running || fail "vm1 is $(domstate "$to" vm1) on $to"
	domstate_is "$from" vm1 paused || fail "vm1 is $(domstate "$from" vm1) on $from (should be the paused backup)"
	[[ $(pair_json "$to" vm1 | jq -r '.copy.kind // "-"') == delta ]] ||
		fail "the copy back after a live switchover was $(pair_json "$to" vm1 | jq -c .copy), not a delta"
	for i in "${tried[@]}"; do
		if grep -qx "wrote 1048576/1048576 bytes at offset $(((64 + i) * MIB))" \
			"/var/lib/hasvc-lab/$HASVC_LAB/$from/var/log/libvirt/qemu/vm1.log"; then
			acked=$((acked + 1))
		else
			unacked+=("$i")
		fi
	done
	for i in "${unacked[@]}"; do write_blocks "$to" vm1 "$i" "$i"; done
	note "$acked writes acknowledged during the move, ${#unacked[@]} never ran (written again on $to)"
	verify_blocks "$to" vm1 10 44 # (45..50: step 6's)
	verify_blocks "$to" vm1 51 "$written"
	# the new primary writes both disks at once too: its own quorum, its child to FROM
	wait_for 30 "vm1's device on $to on the quorum, both children" in_steady "$to"
	ip=10.77.0.1${from#node}
	[[ $(child_goes_to "$to") == "$ip:"* ]] || fail "$to's quorum child goes to '$(child_goes_to "$to")', not $from ($ip)"
	note "$to: device on $(device_node "$to"), children: $(children "$to") -> $(child_goes_to "$to"); bitmaps: $(bitmaps "$to")"
	identical "$to" "$from"
}
export HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp HASVC_SYNC_WRITES=parallel"
lab up --hosts 2
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
t0=$(now_ms)
lab exec node1 hasvc pair create vm1 --backup node2 --mode sync
wait_for 90 "vm1 in-sync" pair_state_is node1 vm1 in-sync
note "1. in-sync in $(($(now_ms) - t0)) ms"
wait_for 10 "the handover to the quorum" in_steady
note "the device on $(device_node node1), children: $(children); bitmaps: $(bitmaps); jobs: '$(block_jobs)'"
[[ $(children) == libvirt-*-format\ hs-s-vda-* ]] || fail "the local disk is not the quorum's first child: $(children)"
[[ $(bitmaps) == *"hs-d-vda-"*"@10.77.0.12:"* ]] || fail "no dirty bitmap of ours: $(bitmaps)"
lab exec node1 virsh blockjob vm1 vda | contains "No current block job" || fail "libvirt sees a job"
event_count_above node1 "to both disks at once" 0 || fail "the mirror's start does not say parallel"

note "2. writes reach the backup; a flush too"
write_blocks node1 vm1 1 8
on_backup 1 8 || fail "a block acknowledged through the quorum is not on the backup"
! on_backup 9 9 || fail "on_backup cannot fail?"
qio node1 vm1 "flush" || fail "a guest flush failed"
identical

note "3. node2's replication link cut; the writes go on"
lab repl node2 cut
t0=$(now_ms)
write_blocks node1 vm1 10 25
note "16 x 1 MiB acknowledged in $(($(now_ms) - t0)) ms with the link cut"
wait_for 30 "vm1 degraded" event_count_above node1 "in-sync -> degraded" 0
wait_for 10 "the NBD child out of the quorum" child_gone
note "children now: $(children); bitmaps: $(bitmaps)"
lab repl node2 heal
t0=$(now_ms)
# the guest writes during the resync too
write_blocks node1 vm1 26 40 &
writer=$!
wait_for 90 "vm1 in-sync after the heal" pair_state_is node1 vm1 in-sync
wait "$writer" || fail "a write failed during the resync"
note "in-sync $(($(now_ms) - t0)) ms after the heal"
wait_for 10 "the handover after the resync" in_steady
lab exec node1 hasvc events | grep vm1 | grep -E "resync|degraded|in-sync" | tail -4
event_count_above node1 "incremental resync" 0 || fail "no incremental resync"
bytes=$(lab exec node1 hasvc events --json | jq -r '[.events[] | select(.message | contains("incremental resync"))][-1].message' |
	sed -n 's/.* copying \([0-9]*\) bytes.*/\1/p')
note "the resync copied $bytes bytes from the bitmaps (the disk: $((256 * MIB)))"
[ -n "$bytes" ] && [ "$bytes" -ge $((16 * MIB)) ] && [ "$bytes" -le $((64 * MIB)) ] ||
	fail "the resync's bytes ($bytes) are not about the 16 MiB written during the cut"
copy=$(pair_field node1 vm1 'copy | .kind')
[ "$copy" = delta ] || fail "the resync's copy is '$copy'"
on_backup 10 40 || fail "a block written during the cut or the resync is not on the backup"
identical

note "4. node1's hasvcd restarted: it vouches for the child the old one added"
n0=$(event_count node1 "in-sync -> degraded")
child0=$(children)
lab restart-daemon node1
wait_for 60 "node1's hasvcd back and synced" synced node1
sleep 10 # past the vouch's settling (5 s) and a poll
[ "$(event_count node1 "in-sync -> degraded")" = "$n0" ] ||
	fail "the restart dropped the protection: $(lab exec node1 hasvc events | grep -- "-> degraded" | tail -1)"
[ "$(children)" = "$child0" ] || fail "the quorum child changed: [$(children)], was [$child0]"
pair_state_is node1 vm1 in-sync || fail "vm1 is $(pair_field node1 vm1 state)"
write_blocks node1 vm1 41 44
on_backup 41 44 || fail "a block written after the restart is not on the backup"
identical

note "5. live switchovers with parallel writes: node1 -> node2 -> node1"
boots=$(event_count node1 "(live switchover, no reboot)")
live_move node1 node2
live_move node2 node1
[ "$(event_count node1 "(live switchover, no reboot)")" -eq $((boots + 2)) ] || fail "not two live switchovers without a reboot"
[ "$(event_count node1 "(primary-stopped)")" -eq 0 ] || fail "a live switchover stopped the guest"

note "6. power loss of the primary: node2 promoted holds every acknowledged block"
write_blocks node1 vm1 45 50
qio node1 vm1 "flush"
lab crash node1
wait_for 120 "vm1 running on node2" domstate_is node2 vm1 running
verify_blocks node2 vm1 1 8
verify_blocks node2 vm1 10 "$written" # (block 9 was never written: the check that on_backup can fail)
note "PASS"

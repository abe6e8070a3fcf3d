#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Failback after a failover (issue 13, item 3): the old primary's disk may
# hold writes that never reached the backup (written locally, not yet
# acknowledged, at the crash). hasvc copies it in full when that host comes
# back as the backup (docs/pairs.md, "Failback after a failover": why not a
# compare pass). 3 hosts, node3 in maintenance so that the returning node1
# is the only host the pair can take as its backup; the qmp engine.
#   - vm1 paired node1 -> node2, blocks written; node1 crashes, node2 runs vm1;
#   - while node1 is off, a block is written into its image by hand at an
#     offset the guest never wrote: the write that reached node1's disk and
#     never the backup;
#   - node1 boots: the pair takes it as its backup, the copy is full (kind
#     and reason in the API and the events), its bytes the whole disk;
#   - with the guest paused and flushed, node1's image equals node2's: the
#     stray write is gone, every acknowledged block on both;
#   - the VM moves home by a live switchover, with a delta back.
source "$(dirname "$0")/lib.sh"

HASVC_LAB_DAEMON_ENV="HASVC_MIRROR_ENGINE=qmp" lab up --hosts 3
wait_for 30 "quorum" quorate node1
lab vm-create node1 vm1 256M
lab exec node1 hasvc pair create vm1 --backup node2 --wait --timeout 120
lab exec node3 hasvc node maintenance node3 on --wait --timeout 60
write_blocks node1 vm1 1 8
img=/var/lib/hasvc-lab/$HASVC_LAB/node1/var/lib/libvirt/images/vm1.qcow2
stray=$((200 << 20))

note "crash node1; vm1 fails over to node2"
lab crash node1
wait_for 60 "vm1 running on node2" domstate_is node2 vm1 running
wait_for 30 "vm1 unprotected on node2" bash -c "[ \"\$($LAB_CMD exec node2 hasvc pair show vm1 --json | jq -r '.primary + \"/\" + .state')\" = node2/unprotected ]"
verify_blocks node2 vm1 1 8
write_blocks node2 vm1 9 12

note "a write that reached node1's disk and never the backup: 1 MiB of 0xee at 200 MiB, by hand"
qemu-io -f qcow2 -c "write -P 0xee $stray 1M" "$img" >/dev/null
qemu-io -f qcow2 -c "read -P 0xee $stray 1M" "$img" | contains "read 1048576/1048576" ||
	fail "the stray write is not on node1's image"

note "node1 boots: the pair takes it as its backup and copies it in full"
t0=$(now_ms)
lab boot node1
wait_for 180 "vm1 in sync with node1 its backup" bash -c "[ \"\$($LAB_CMD exec node2 hasvc pair show vm1 --json | jq -r '.primary + \"/\" + .backup + \"/\" + .state')\" = node2/node1/in-sync ]"
copy=$(pair_json node2 vm1 | jq -r '.copy.kind + "|" + .copy.reason + "|" + (.copy.bytes_total | tostring)')
note "in sync $(($(now_ms) - t0)) ms after node1's boot; copy: $copy"
IFS='|' read -r kind reason bytes <<<"$copy"
[ "$kind" = full ] || fail "the copy onto the old primary's disk was $kind ($reason), not full"
[ "$bytes" -eq $((256 << 20)) ] || fail "the full copy counted $bytes bytes, not the disk's $((256 << 20))"
[[ $reason == *"failback"* ]] || fail "the copy's reason does not say failback: $reason"
event_count_above node2 "full copy of vm1 to node1 (" 0 || fail "no event names the full copy to node1"

note "guest paused and flushed: node1's image equals node2's, the stray write gone"
lab exec node2 virsh -q suspend vm1 >/dev/null
qio node2 vm1 "flush"
port=$(pair_field node2 vm1 nbd_port)
images_identical node2 node1 "$port" || fail "node1's image differs from node2's after the failback copy"
# (qemu-io exits 1 on a pattern that does not match: that is the expected read)
if out=$(nbd_io node2 10.77.0.11 "$port" -r -c "read -P 0xee $stray 1M" 2>&1); then
	fail "the stray write is still on node1's disk"
fi
grep -q "Pattern verification failed" <<<"$out" || fail "node1's disk at 200 MiB could not be read: $out"
lab exec node2 virsh -q resume vm1 >/dev/null

note "vm1 moves home live; the copy back is a delta"
lab exec node3 hasvc node maintenance node3 off
lab exec node3 hasvc switchover vm1 --live --wait --timeout 120
[ "$(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)" = node1/node2 ] ||
	fail "after the switchover vm1 is $(pair_field node3 vm1 primary)/$(pair_field node3 vm1 backup)"
[ "$(pair_json node3 vm1 | jq -r .copy.kind)" = delta ] || fail "the copy back was $(pair_json node3 vm1 | jq -c .copy)"
verify_blocks node1 vm1 1 12
note "PASS"
